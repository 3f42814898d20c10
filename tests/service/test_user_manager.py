"""The unit under a real `systemd --user` manager: sandbox applied, READY=1 received, /health served, clean stop.

The manager runs in a private mount namespace (`unshare -m`) with its own /run/systemd/system and runtime dir, so
no system manager is needed (this machine and CI have none). It needs root for the namespace; CI runs as root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codexbard.service.render import render_unit, systemd_command

SCRIPT = r"""
set -u
mkdir -p /run/systemd/system /run/user/0 && chmod 700 /run/user/0
export XDG_RUNTIME_DIR=/run/user/0 HOME="$1"
mkdir -p "$HOME/.config/systemd/user"
cp "$2" "$HOME/.config/systemd/user/codexbard.service"
if [ "$4" = yes ]; then  # the program under test lives in /tmp, which PrivateTmp hides from the service
    mkdir -p "$HOME/.config/systemd/user/codexbard.service.d"
    printf '[Service]\nPrivateTmp=no\n' > "$HOME/.config/systemd/user/codexbard.service.d/tmp.conf"
fi
/lib/systemd/systemd --user >/dev/null 2>&1 &
manager=$!
for _ in $(seq 50); do systemctl --user is-system-running >/dev/null 2>&1 && break; sleep 0.1; done
systemctl --user daemon-reload
systemctl --user start codexbard.service            # Type=notify: returns once READY=1 arrived
echo "state=$(systemctl --user show codexbard.service -p ActiveState --value)"
echo "status=$(systemctl --user show codexbard.service -p StatusText --value)"
echo "protect=$(systemctl --user show codexbard.service -p ProtectSystem --value)"
echo "health=$(curl -s "http://127.0.0.1:$3/health")"
systemctl --user stop codexbard.service
echo "result=$(systemctl --user show codexbard.service -p Result --value)"
kill "$manager"
"""


def test_the_unit_runs_under_a_user_manager(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not (shutil.which("unshare") and Path("/lib/systemd/systemd").exists()
                                  and shutil.which("curl")):
        pytest.skip("needs root, unshare, curl and Debian's systemd package (.ci/run installs it; CI runs as root)")
    entry = Path(sys.executable).parent / "codexbard"
    port = 18000 + os.getpid() % 1000
    unit = tmp_path / "codexbard.service"
    unit.write_text(render_unit(systemd_command([str(entry), "serve", "--port", str(port)])))
    home = tmp_path / "home"
    # A checkout under /tmp (as a CI clone may be) is invisible behind PrivateTmp; a real install is not there.
    in_tmp = "yes" if str(entry.resolve()).startswith(("/tmp/", "/var/tmp/")) else "no"
    result = subprocess.run(["timeout", "60", "unshare", "-m", "--propagation", "private", "bash", "-c", SCRIPT,
                             "sdtest", str(home), str(unit), str(port), in_tmp],
                            capture_output=True, text=True, timeout=90)
    facts = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert facts["state"] == "active", result.stdout + result.stderr
    assert facts["status"] == f"serving on 127.0.0.1:{port}"
    assert facts["protect"] == "full"
    # "ok", not "degraded": the database under HOME is writable in the sandbox (ProtectSystem=full)
    assert '"status":"ok"' in facts["health"] and '"store"' not in facts["health"]
    assert facts["result"] == "success"
