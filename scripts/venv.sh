# Sourced by the other scripts: create .venv/ at the repository root and install the project's
# requirements into it, again only when a requirements file changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "Creating the virtual environment in .venv/ ..."
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.requirements.sha256"
wanted="$(cat "$ROOT"/requirements*.txt "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "Installing the requirements into .venv/ (first run takes a few minutes) ..."
  "$VENV/bin/python" -m pip install -qq --upgrade pip
  (cd "$ROOT" && "$VENV/bin/python" -m pip install -qq -r requirements-dev.txt)
  echo "$wanted" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
