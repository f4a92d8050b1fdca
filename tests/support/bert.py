"""A tiny randomly initialised BERT built offline, in the layout of the packaged MiniLM, for fast BERT tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.data import review_frame

# A 2-layer BERT (hidden size 32) and a WordPiece tokenizer trained on the fixture's sentences, saved as a
# Hugging Face model folder like the packaged MiniLM (a bare BertModel: the task adds the classifier head).
BUILD_TINY_BERT = """
import sys
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertModel, BertTokenizerFast

texts, folder = open(sys.argv[1]).read().splitlines(), sys.argv[2]
special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
wordpiece = Tokenizer(models.WordPiece(unk_token="[UNK]"))
wordpiece.normalizer = normalizers.BertNormalizer(lowercase=True)
wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
wordpiece.decoder = decoders.WordPiece()
wordpiece.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=200, special_tokens=special))
cls, sep = wordpiece.token_to_id("[CLS]"), wordpiece.token_to_id("[SEP]")
wordpiece.post_processor = processors.TemplateProcessing(
    single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
)
tokenizer = BertTokenizerFast(tokenizer_object=wordpiece, model_max_length=64)
config = BertConfig(
    vocab_size=wordpiece.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
    intermediate_size=64, max_position_embeddings=64, pad_token_id=wordpiece.token_to_id("[PAD]"),
)
BertModel(config).save_pretrained(folder)
tokenizer.save_pretrained(folder)
"""

# Fast settings for the tiny model: ~20 optimiser steps per epoch, validation every 5 steps.
TINY_ARGS = {"batch_size": 4, "max_length": 32, "learning_rate": 0.005, "eval_every_steps": 5, "warmup_ratio": 0.0}


def build_tiny_bert(root: Path, reviews: int = 60) -> Path:
    """Build the tiny BERT under ``root`` (its tokenizer trained on the review fixture); returns its folder."""
    texts = root / "texts.txt"
    texts.write_text("\n".join(review_frame(reviews=reviews)["sentence"]))
    folder = root / "model"
    build = root / "build.py"
    build.write_text(BUILD_TINY_BERT)
    proc = subprocess.run([sys.executable, str(build), str(texts), str(folder)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return folder
