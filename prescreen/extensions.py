"""The Flask extension objects, made once and bound to each app in ``create_app``.

Blueprints and helpers import them from here, never from the factory, so nothing imports
``prescreen`` itself to reach them.
"""

from __future__ import annotations

from flask_compress import Compress
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
login_manager = LoginManager()
compress = Compress()
