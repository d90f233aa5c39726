"""Helpers shared by the tests, imported explicitly: ``from tests.helpers.public import start``.

- ``public``: walk the real study as a family's browser would (consent, answer, walk, resume).
- ``staff``: coordinator accounts, logins and screenings/referrals written into the real schema.
- ``study``: small inline studies, and ``build_study()`` for a study of just the rows a test is about.
- ``fuzz``: the form fuzzers' strategies, settings and database snapshots.
- ``browser``: the axe-core check of the real-browser tests.
"""
