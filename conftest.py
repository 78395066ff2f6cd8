"""The test session's environment: random secrets of a real deployment's strength.

`tillbridge web`, `worker` and `scheduler` refuse to start with a missing, short or published secret
(service/deployment_secrets.py). The processes the tests start inherit this environment, so they
pass the same check a merchant's processes do; a test's own settings still override these.
"""

from __future__ import annotations

import os

from cryptography.fernet import Fernet

from service.deployment_secrets import REQUIRED, generate, problem

for _name in REQUIRED:
    if problem(_name, os.environ.get(_name)) is not None:
        os.environ[_name] = generate()
os.environ.setdefault("TILLBRIDGE_ENCRYPTION_KEY", Fernet.generate_key().decode())
