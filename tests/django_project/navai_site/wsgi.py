"""The project's WSGI application; creates its tables at start (a test database)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "navai_site.settings")

import django
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application

django.setup()
call_command("migrate", verbosity=0, interactive=False)
application = get_wsgi_application()
