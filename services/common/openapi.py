"""Each service's OpenAPI document, written to docs/openapi/ and checked for drift in CI.

python -m services.common.openapi write | check
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from .settings import SERVICES, Settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi"


def _offline_settings(service: str, settings_cls: type[Settings]) -> Settings:
    """Settings that let create_app build the app without touching any server."""
    return settings_cls(
        service=service,
        database_url="postgresql+psycopg://offline@127.0.0.1:1/offline",
        broker_url="redis://127.0.0.1:1/0",
        result_backend="redis://127.0.0.1:1/0",
        jwt_issuer="https://identity.example",
        jwt_audience="pumpurs",
        jwks_url="https://identity.example/.well-known/jwks.json",
        log_format="console",
    )


def services_with_api() -> list[str]:
    found = []
    for svc in SERVICES:
        try:
            importlib.import_module(f"services.{svc}.app")
        except ModuleNotFoundError:
            continue
        found.append(svc)
    return found


def spec_of(service: str) -> dict[str, Any]:
    app_mod = importlib.import_module(f"services.{service}.app")
    settings_mod = importlib.import_module(f"services.{service}.settings")
    settings_cls = next(
        v for v in vars(settings_mod).values() if isinstance(v, type) and issubclass(v, Settings) and v is not Settings
    )
    app = app_mod.create_app(_offline_settings(service, settings_cls))
    with app.app_context():
        return app.extensions["api"].spec.to_dict()  # type: ignore[no-any-return]


def render(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    mode = argv[0] if argv else "check"
    DOCS.mkdir(parents=True, exist_ok=True)
    drifted = []
    for svc in services_with_api():
        path = DOCS / f"{svc}.json"
        text = render(spec_of(svc))
        if mode == "write":
            path.write_text(text)
            print(f"wrote {path}")
        elif not path.exists() or path.read_text() != text:
            drifted.append(svc)
    if drifted:
        print(f"OpenAPI drifted for {', '.join(drifted)}: run `make openapi` and commit docs/openapi/")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
