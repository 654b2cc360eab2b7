#!/usr/bin/env sh
# Print the path of a working Python 3.10 (Rasa 3.6 supports Python 3.8-3.10 only).
# Looks on PATH first, then in pyenv's versions; a pyenv shim that is not activated fails the
# version check and is skipped.
for candidate in "${PYTHON310:-}" python3.10 "$HOME"/.pyenv/versions/3.10*/bin/python3.10 \
                 /usr/local/bin/python3.10 /usr/bin/python3.10; do
  [ -n "$candidate" ] || continue
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if "$path" -c 'import sys, venv; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
    echo "$path"
    exit 0
  fi
done
echo "Python 3.10 not found. Rasa 3.6 needs it: install it (e.g. 'pyenv install 3.10' or your" >&2
echo "distribution's python3.10 and python3.10-venv packages), or set PYTHON310=/path/to/python3.10." >&2
exit 1
