"""Write the /v1 OpenAPI document to the snapshot the tests compare it with.

    python -m service.cli.openapi_snapshot
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

SNAPSHOT = Path(__file__).resolve().parents[2] / "tests" / "api" / "v1" / "openapi.snapshot.json"


def main() -> None:
    from service.app.factory import create_app

    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app({"DATA_DIR": data_dir})
        document = app.test_client().get("/v1/openapi.json").json
        app.extensions["tillbridge"].store.dispose()
    SNAPSHOT.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT}")


if __name__ == "__main__":
    main()
