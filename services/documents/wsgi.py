"""WSGI entry for documents: `gunicorn services.documents.wsgi:app`."""

from services.documents.app import create_app

app = create_app()
