"""Tests for codexbard.host.credentials: cleaning, lookup order, the secrets file and the store choice."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from pydantic import SecretStr

from codexbard.host import credentials
from codexbard.host.credentials import (
    CredentialResolver,
    FileSecretStore,
    KeyringStore,
    MemorySecretStore,
    Secret,
    SecretLookup,
    SecretStore,
    clean_secret,
    entry_name,
    select_secret_store,
    write_private,
)
from codexbard.host.files import HomeFiles

VALUE = "zk-live-0123456789abcdef"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- clean_secret -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("abc", "abc"),
        ("  abc  ", "abc"),
        ("abc\n", "abc"),
        ("\tabc\r\n", "abc"),
        ('"abc"', "abc"),
        ("'abc'", "abc"),
        ('  " abc "  ', "abc"),
        # Only one pair of quotes is removed.
        ("\"'abc'\"", "'abc'"),
        # Mismatched or lone quotes are part of the value.
        ("'abc\"", "'abc\""),
        ('"abc', '"abc'),
        ("abc'", "abc'"),
        ('a"b"c', 'a"b"c'),
        (None, None),
        ("", None),
        ("   \n", None),
        ('""', None),
        ("''", None),
        ('"  "', None),
        ('"', '"'),
    ],
)
def test_clean_secret(raw: str | None, expected: str | None) -> None:
    assert clean_secret(raw) == expected


def test_entry_name() -> None:
    assert entry_name("zai", None, "api_key") == "zai:api_key"
    assert entry_name("claude", "personal", "oauth_token") == "claude@personal:oauth_token"


# --- Secret -------------------------------------------------------------------------------------


def test_secret_never_shows_its_value() -> None:
    secret = Secret(VALUE, "env Z_AI_API_KEY")
    assert secret.reveal() == VALUE
    assert repr(secret) == "Secret(*** from env Z_AI_API_KEY)"
    assert str(secret) == "Secret(*** from env Z_AI_API_KEY)"
    assert VALUE not in f"{secret} {secret!r} {[secret]} {({'k': secret})}"
    lookup = SecretLookup(secret=secret, searched=["env Z_AI_API_KEY"])
    assert VALUE not in repr(lookup)
    assert secret.origin == "env Z_AI_API_KEY"


def test_secret_equality_by_value() -> None:
    assert Secret("a", "x") == Secret("a", "y")
    assert Secret("a", "x") != Secret("b", "x")
    assert Secret("a", "x") != "a"
    assert len({Secret("a", "x"), Secret("a", "y")}) == 1


def test_lookup_where() -> None:
    assert SecretLookup(secret=None).where() == "nowhere"
    lookup = SecretLookup(secret=None, searched=["env A", "file ~/b"], problems=["p1", "p2"])
    assert lookup.where() == "env A, file ~/b (p1; p2)"
    assert not lookup.found


# --- CredentialResolver -------------------------------------------------------------------------


def resolver(
    home: Path,
    *,
    env: Mapping[str, str] | None = None,
    store: SecretStore | None = None,
    config: Mapping[str, object] | None = None,
    account: str | None = None,
) -> CredentialResolver:
    environment = {"HOME": str(home), **(env or {})}
    return CredentialResolver(
        provider="zai",
        account=account,
        env=environment,
        store=store or MemorySecretStore(),
        files=HomeFiles(environment),
        config_values=config or {},
    )


@pytest.fixture
def key_file(clean_env: Path) -> str:
    path = clean_env / ".zai" / "key"
    path.parent.mkdir()
    path.write_text("from-file\nsecond line\n")
    return "~/.zai/key"


def lookup_all(res: CredentialResolver, key_file: str) -> SecretLookup:
    return res.secret("api_key", env_vars=("Z_AI_API_KEY", "ZAI_KEY"), files=(key_file,))


def test_env_wins_over_everything(clean_env: Path, key_file: str) -> None:
    res = resolver(
        clean_env,
        env={"Z_AI_API_KEY": " 'from-env' "},
        store=MemorySecretStore({"zai:api_key": "from-store"}),
        config={"api_key": "from-config"},
    )
    found = lookup_all(res, key_file)
    assert found.found
    assert found.secret is not None
    assert found.secret.reveal() == "from-env"
    assert found.secret.origin == "env Z_AI_API_KEY"
    assert found.searched == ["env Z_AI_API_KEY"]


def test_second_env_var_is_tried(clean_env: Path, key_file: str) -> None:
    res = resolver(clean_env, env={"Z_AI_API_KEY": "  ", "ZAI_KEY": "second"}, config={"api_key": "c"})
    found = lookup_all(res, key_file)
    assert found.secret is not None
    assert found.secret.reveal() == "second"
    assert found.secret.origin == "env ZAI_KEY"


def test_store_shadows_config_and_file(clean_env: Path, key_file: str) -> None:
    res = resolver(
        clean_env, store=MemorySecretStore({"zai:api_key": "from-store\n"}), config={"api_key": "from-config"}
    )
    found = lookup_all(res, key_file)
    assert found.secret is not None
    assert found.secret.reveal() == "from-store"
    assert found.secret.origin == "memory"
    assert found.searched == ["env Z_AI_API_KEY", "env ZAI_KEY", "memory entry zai:api_key"]


def test_config_shadows_file(clean_env: Path, key_file: str) -> None:
    res = resolver(clean_env, config={"api_key": SecretStr('"from-config"')})
    found = lookup_all(res, key_file)
    assert found.secret is not None
    assert found.secret.reveal() == "from-config"
    assert found.secret.origin == "config providers.zai.api_key"


def test_file_is_last(clean_env: Path, key_file: str) -> None:
    res = resolver(clean_env, config={"api_key": "   ", "other": "x"})
    found = lookup_all(res, key_file)
    assert found.secret is not None
    assert found.secret.reveal() == "from-file"
    assert found.secret.origin == "file ~/.zai/key"


def test_nothing_found_lists_every_place(clean_env: Path) -> None:
    res = resolver(clean_env, config={"api_key": 12345})
    found = res.secret("api_key", env_vars=("Z_AI_API_KEY",), files=("~/.zai/key", "~/.zai/empty"))
    assert not found.found
    assert found.secret is None
    assert found.where() == (
        "env Z_AI_API_KEY, memory entry zai:api_key, config providers.zai.api_key, "
        "file ~/.zai/key, file ~/.zai/empty"
    )


def test_use_store_false_skips_the_store(clean_env: Path) -> None:
    res = resolver(clean_env, store=MemorySecretStore({"zai:cookie_header": "c=1"}))
    found = res.secret("cookie_header", use_store=False)
    assert not found.found
    assert found.searched == ["config providers.zai.cookie_header"]


def test_account_lookup_skips_provider_env_vars(clean_env: Path, key_file: str) -> None:
    res = resolver(
        clean_env,
        account="work",
        env={"Z_AI_API_KEY": "default-env"},
        store=MemorySecretStore({"zai:api_key": "default-store", "zai@work:api_key": "work-store"}),
    )
    found = lookup_all(res, key_file)
    assert found.secret is not None
    assert found.secret.reveal() == "work-store"
    assert found.searched == ["memory entry zai@work:api_key"]


def test_account_lookup_falls_to_account_config(clean_env: Path) -> None:
    res = resolver(
        clean_env,
        account="work",
        env={"Z_AI_API_KEY": "default-env"},
        store=MemorySecretStore({"zai:api_key": "default-store"}),
        config={"api_key": "work-config"},
    )
    found = res.secret("api_key", env_vars=("Z_AI_API_KEY",))
    assert found.secret is not None
    assert found.secret.reveal() == "work-config"
    assert found.secret.origin == "config providers.zai.accounts[work].api_key"
    missing = resolver(clean_env, account="work", env={"Z_AI_API_KEY": "default-env"}).secret(
        "api_key", env_vars=("Z_AI_API_KEY",)
    )
    assert missing.where() == "memory entry zai@work:api_key, config providers.zai.accounts[work].api_key"


def test_store_problem_is_reported_without_the_value(clean_env: Path, tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text(f'"zai:api_key" = "{VALUE}"\n')
    path.chmod(0o644)
    res = resolver(clean_env, store=FileSecretStore(path))
    found = res.secret("api_key")
    assert not found.found
    assert found.problems == [f"{path} is readable by others; run: chmod 600 {path}"]
    assert found.where() == (
        f"secrets file {path} entry zai:api_key, config providers.zai.api_key "
        f"({path} is readable by others; run: chmod 600 {path})"
    )
    assert VALUE not in found.where()


# --- FileSecretStore ----------------------------------------------------------------------------


def test_file_store_set_get_delete(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "secrets.toml"
    store = FileSecretStore(path)
    assert store.name == f"secrets file {path}"
    assert store.get("zai:api_key") == (None, None)
    store.set("zai:api_key", VALUE)
    store.set("claude@personal:oauth_token", "tok")
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert store.get("zai:api_key") == (VALUE, None)
    assert store.get("claude@personal:oauth_token") == ("tok", None)
    store.set("zai:api_key", "replaced")
    assert store.get("zai:api_key") == ("replaced", None)
    assert store.delete("zai:api_key") is True
    assert store.delete("zai:api_key") is False
    assert store.get("zai:api_key") == (None, None)
    assert store.get("claude@personal:oauth_token") == ("tok", None)
    assert mode(path) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["secrets.toml"]


def test_file_store_ignores_non_string_entries(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    write_private(path, b'"zai:api_key" = 5\n"warp:api_key" = "w"\n[table]\nx = "y"\n')
    assert FileSecretStore(path).get("zai:api_key") == (None, None)
    assert FileSecretStore(path).get("warp:api_key") == ("w", None)


@pytest.mark.parametrize("insecure", [0o644, 0o640, 0o604, 0o660, 0o606])
def test_file_store_refuses_a_readable_file(tmp_path: Path, insecure: int) -> None:
    path = tmp_path / "secrets.toml"
    store = FileSecretStore(path)
    store.set("zai:api_key", VALUE)
    path.chmod(insecure)
    value, problem = store.get("zai:api_key")
    assert value is None
    assert problem == f"{path} is readable by others; run: chmod 600 {path}"
    with pytest.raises(OSError) as info:
        store.set("warp:api_key", "w")
    assert VALUE not in str(info.value)
    assert "readable by others" in str(info.value)
    assert store.delete("zai:api_key") is False
    path.chmod(0o600)
    assert store.get("zai:api_key") == (VALUE, None)


def test_file_store_corrupt_toml_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    write_private(path, f'"zai:api_key" = "{VALUE}\n'.encode())
    value, problem = FileSecretStore(path).get("zai:api_key")
    assert value is None
    assert problem == f"cannot parse {path}: TOMLDecodeError"
    write_private(path, b"\xff\xfe = 1")
    value, problem = FileSecretStore(path).get("zai:api_key")
    assert value is None
    assert problem == f"cannot parse {path}: UnicodeDecodeError"
    with pytest.raises(OSError):
        FileSecretStore(path).set("zai:api_key", "x")
    assert path.read_bytes() == b"\xff\xfe = 1"


def test_file_store_unreadable_path_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "secrets.toml").mkdir(mode=0o700)
    value, problem = FileSecretStore(tmp_path / "secrets.toml").get("zai:api_key")
    assert value is None
    assert problem is not None and problem.startswith(f"cannot parse {tmp_path / 'secrets.toml'}")


def test_memory_store() -> None:
    store = MemorySecretStore({"a:api_key": "1"})
    assert store.get("a:api_key") == ("1", None)
    store.set("b:api_key", "2")
    assert store.values == {"a:api_key": "1", "b:api_key": "2"}
    assert store.delete("a:api_key") is True
    assert store.delete("a:api_key") is False


# --- write_private ------------------------------------------------------------------------------


def test_write_private_mode_and_replace(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "file.toml"
    old_umask = os.umask(0)
    try:
        write_private(path, b"one")
    finally:
        os.umask(old_umask)
    assert path.read_bytes() == b"one"
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    # Replacing a world-readable file yields a private one (a new inode, not a chmod of the old).
    path.chmod(0o644)
    inode = path.stat().st_ino
    write_private(path, b"two")
    assert path.read_bytes() == b"two"
    assert mode(path) == 0o600
    assert path.stat().st_ino != inode
    assert [p.name for p in path.parent.iterdir()] == ["file.toml"]


def test_write_private_is_atomic_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cfg" / "file.toml"
    write_private(path, b"original")

    def broken_replace(src: str, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_private(path, b"new")
    assert path.read_bytes() == b"original"
    assert [p.name for p in path.parent.iterdir()] == ["file.toml"]


# --- store selection and the keyring ------------------------------------------------------------


def test_select_secret_store_null_keyring_uses_the_file(tmp_path: Path) -> None:
    assert os.environ["PYTHON_KEYRING_BACKEND"] == "keyring.backends.null.Keyring"
    store, why = select_secret_store(tmp_path / "cfg")
    assert isinstance(store, FileSecretStore)
    assert store.path == tmp_path / "cfg" / "secrets.toml"
    assert why == (
        "keyring backend keyring.backends.null.Keyring is not a secure store; "
        f"using {tmp_path / 'cfg' / 'secrets.toml'}"
    )


class FakeBackend:
    """Stands in for a keyring backend object."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, user: str) -> str | None:
        return self.data.get((service, user))

    def set_password(self, service: str, user: str, value: str) -> None:
        self.data[(service, user)] = value

    def delete_password(self, service: str, user: str) -> None:
        if (service, user) not in self.data:
            raise KeyError(user)
        del self.data[(service, user)]


def test_keyring_store_round_trip() -> None:
    backend = FakeBackend()
    store = KeyringStore(backend, "keyring.backends.SecretService.Keyring")
    assert store.name == "keyring (keyring.backends.SecretService.Keyring)"
    assert store.get("zai:api_key") == (None, None)
    store.set("zai:api_key", VALUE)
    assert backend.data == {("codexbard", "zai:api_key"): VALUE}
    assert store.get("zai:api_key") == (VALUE, None)
    assert store.delete("zai:api_key") is True
    assert store.delete("zai:api_key") is False


def test_keyring_errors_are_problems() -> None:
    class Locked(FakeBackend):
        def get_password(self, service: str, user: str) -> str | None:
            raise RuntimeError("collection is locked")

    value, problem = KeyringStore(Locked(), "x").get("zai:api_key")
    assert value is None
    assert problem == "keyring unavailable: RuntimeError: collection is locked"


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # free the single keyring worker thread for later tests


def test_keyring_that_hangs_is_given_up(monkeypatch: pytest.MonkeyPatch, release: threading.Event) -> None:
    monkeypatch.setattr(credentials, "KEYRING_TIMEOUT", 0.1)

    class Hanging(FakeBackend):
        def get_password(self, service: str, user: str) -> str | None:
            release.wait(10)
            return None

    store = KeyringStore(Hanging(), "x")
    value, problem = store.get("zai:api_key")
    assert value is None
    assert problem == "keyring unavailable: OSError: the keyring did not answer within 0.1 s (locked?)"
    # Once broken, the store does not ask again (no second wait).
    value, problem = store.get("zai:api_key")
    assert problem == "keyring unavailable: OSError: the keyring did not answer within 0.1 s (locked?)"
    with pytest.raises(OSError):
        store.set("zai:api_key", "x")


def test_no_session_bus_skips_the_keyring_entirely(tmp_path: Path) -> None:
    from codexbard.host.credentials import FileSecretStore, select_secret_store

    store, note = select_secret_store(tmp_path, {"HOME": str(tmp_path)})
    assert isinstance(store, FileSecretStore)
    assert note == f"no D-Bus session bus, so no keyring; using {tmp_path / 'secrets.toml'}"


def test_a_session_bus_means_the_keyring_is_probed(tmp_path: Path) -> None:
    from codexbard.host.credentials import FileSecretStore, select_secret_store

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "bus").touch()
    env = {"XDG_RUNTIME_DIR": str(tmp_path / "run"), "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    store, note = select_secret_store(tmp_path, env)
    assert isinstance(store, FileSecretStore)
    assert note.startswith("keyring backend keyring.backends.null.Keyring is not a secure store")
