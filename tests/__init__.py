"""The test suite is a package, so its helpers import as ``tests.helpers.*`` from any directory."""
