"""WSGI entry for plans: `gunicorn services.plans.wsgi:app`."""

from services.plans.app import create_app

app = create_app()
