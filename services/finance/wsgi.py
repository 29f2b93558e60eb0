"""WSGI entry for finance: `gunicorn services.finance.wsgi:app`."""

from services.finance.app import create_app

app = create_app()
