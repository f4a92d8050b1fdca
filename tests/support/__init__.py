"""Helpers the tests share: servers, SDK environments, fixture data, templates and waiting.

Fixtures live in ``conftest.py`` files and build on these; no test module imports another test module or a
conftest.
"""
