"""Accounts, roles, throttled logins, the session's permissions and the `user` command."""

from __future__ import annotations

import io
import json

import pytest

from inspection_station import cli
from inspection_station.core import paths
from inspection_station.core.settings import access
from inspection_station.core.settings.accounts import (
    AccountError,
    AccountStore,
    LoginRefused,
    default_accounts_path,
)
from inspection_station.core.settings.audit import AuditLog
from inspection_station.core.settings.model import AccessSettings, Settings
from inspection_station.core.settings.session import NOBODY, AccessControl, PermissionDenied


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def control(tmp_path, clock):
    store = AccountStore(tmp_path / "accounts.json", clock=clock)
    audit = AuditLog(tmp_path / "audit.jsonl")
    return AccessControl(store, audit, AccessSettings(max_failed_logins=3, login_delay_s=1.0), "st-7", clock=clock)


def _audit(control):
    return [json.loads(line) for line in control.audit.path.read_text(encoding="utf-8").splitlines()]


def test_store_lives_in_the_data_root_and_keeps_only_hashes():
    store = AccountStore()
    assert store.path == default_accounts_path() == paths.config_dir() / "accounts.json"
    store.add("anna", "admin", "correct horse")
    text = store.path.read_text(encoding="utf-8")
    assert "correct horse" not in text and "scrypt$" in text
    assert AccountStore().get("anna").role == "admin"  # a second object sees the same file


def test_bad_names_roles_and_duplicates_are_refused(tmp_path):
    store = AccountStore(tmp_path / "a.json")
    with pytest.raises(AccountError, match="user name"):
        store.add("has space", "operator", "pass1")
    with pytest.raises(AccountError, match="role: expected one of operator, engineer, admin"):
        store.add("bob", "boss", "pass1")
    with pytest.raises(access.AccessError, match="at least"):
        store.add("bob", "operator", "ab")
    store.add("bob", "operator", "pass1")
    with pytest.raises(AccountError, match="exists already"):
        store.add("bob", "engineer", "pass2")


def test_a_damaged_store_is_a_located_error_never_rewritten(tmp_path):
    path = tmp_path / "accounts.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(AccountError, match="accounts.json: cannot read"):
        AccountStore(path).add("x", "admin", "pass1")
    assert path.read_text(encoding="utf-8") == "{not json"


def test_failed_logins_are_throttled_with_a_growing_delay_then_locked(control, clock):
    control.store.add("eve", "engineer", "right-pw")
    with pytest.raises(LoginRefused) as first:
        control.login("eve", "guess1")
    assert first.value.retry_after_s == 1.0
    with pytest.raises(LoginRefused, match="wait"):  # too soon: not even checked
        control.login("eve", "right-pw")
    clock.now += 1.0
    with pytest.raises(LoginRefused) as second:
        control.login("eve", "guess2")
    assert second.value.retry_after_s == 2.0  # doubles
    clock.now += 2.0
    with pytest.raises(LoginRefused, match="now locked after 3") as third:
        control.login("eve", "guess3")
    assert third.value.locked
    clock.now += 3600
    with pytest.raises(LoginRefused, match="locked"):
        control.login("eve", "right-pw")  # the right password does not open a locked account
    assert control.session is None
    failed = [e for e in _audit(control) if e["kind"] == "login"]
    assert [e["action"] for e in failed] == ["failed"] * 5  # every refusal audited
    assert all(e["user"] == "eve" and e["station"] == "st-7" for e in failed)
    assert "wait" in failed[1]["new"] and "now locked" in failed[3]["new"]


def test_admin_unlocks_and_a_new_password_lifts_the_lock(control, clock):
    control.store.add("root", "admin", "admin-pw")
    control.store.add("eve", "engineer", "right-pw")
    for _ in range(3):
        clock.now += 100
        with pytest.raises(LoginRefused):
            control.login("eve", "nope")
    assert control.store.get("eve").locked
    with pytest.raises(PermissionDenied, match="role admin is needed; nobody signed in"):
        control.unlock_user("eve")
    control.login("root", "admin-pw")
    control.unlock_user("eve")
    control.logout()
    assert control.login("eve", "right-pw").role == "engineer"
    actions = [(e["kind"], e["action"], e["user"]) for e in _audit(control)]
    assert ("user", "unlock", "root") in actions


def test_unknown_names_are_refused_like_wrong_passwords_and_throttled(control):
    with pytest.raises(LoginRefused, match="wrong user name or password"):
        control.login("ghost", "x")
    with pytest.raises(LoginRefused, match="wait"):
        control.login("ghost", "x")
    assert not control.store.path.exists()  # unknown names never fill the store


def test_roles_and_the_configurable_policy(control):
    control.store.add("olga", "operator", "op-pw")
    control.store.add("eddie", "engineer", "eng-pw")
    control.store.add("ada", "admin", "adm-pw")
    # nobody signed in: the operator actions only
    assert control.allowed("product_switch")
    assert not control.allowed("settings") and not control.allowed("reset_shift")
    control.login("olga", "op-pw")
    assert not control.allowed("settings") and not control.allowed("patterns")
    with pytest.raises(PermissionDenied, match="role engineer is needed; olga \\(operator\\)"):
        control.require("settings")
    control.login("eddie", "eng-pw")
    assert control.allowed("settings") and control.allowed("reset_shift") and not control.allowed("users")
    control.login("ada", "adm-pw")
    assert all(control.allowed(a) for a in ("settings", "patterns", "product_switch", "reset_shift", "users"))
    control.apply_settings(AccessSettings(product_switch_role="engineer"))
    control.logout()
    assert not control.allowed("product_switch")


def test_idle_session_locks_again_and_is_audited(control, clock):
    control.store.add("eddie", "engineer", "eng-pw")
    control.login("eddie", "eng-pw")
    clock.now += 299
    assert not control.lock_if_idle()
    control.touch()
    clock.now += 299
    assert not control.lock_if_idle() and control.session is not None
    clock.now += 2
    assert control.lock_if_idle() and control.session is None
    last = _audit(control)[-1]
    assert (last["action"], last["user"], last["role"]) == ("logout", "eddie", "engineer")
    assert "without input" in last["new"]


def test_every_route_is_checked_by_the_same_role_rule(control):
    """`permits(actor, action)`: a person's session, an API request's role, the command line."""
    from inspection_station.core.settings.audit import Actor

    nobody = Actor(NOBODY, "operator", "st-7", route="gui")
    engineer = Actor("eddie", "engineer", "st-7", route="gui")
    api = Actor("api:mes", "operator", "st-7", route="api")
    cli_user = Actor("os:root", "system", "st-7", route="cli")
    assert control.permits(nobody, "product_switch") and control.permits(api, "product_switch")
    assert not control.permits(nobody, "reset_shift") and not control.permits(api, "reset_shift")
    assert control.permits(engineer, "reset_shift") and not control.permits(engineer, "users")
    assert control.permits(cli_user, "users")  # the OS account may edit the files anyway
    assert not control.permits(Actor("x", "superuser", "st-7"), "settings")  # an unknown role: refused
    assert "the role engineer is needed; nobody signed in" in control.refusal(nobody, "reset_shift")


def test_the_first_admin_is_created_only_explicitly_and_only_once(control):
    assert control.needs_first_admin()
    with pytest.raises(AccountError, match="differ"):
        control.create_first_admin("ada", "adm-pw", "adm-px")
    control.create_first_admin("ada", "adm-pw", "adm-pw")
    assert not control.needs_first_admin()
    with pytest.raises(AccountError, match="exists already"):
        control.create_first_admin("mallory", "pw-pw", "pw-pw")
    assert [u.name for u in control.store.users()] == ["ada"]


def test_the_last_admin_cannot_be_removed(control):
    control.store.add("ada", "admin", "adm-pw")
    with pytest.raises(AccountError, match="last admin"):
        control.store.remove("ada")


def test_legacy_engineer_password_is_migrated_unchanged(control):
    legacy = access.hash_password("old secret", n=2**4, r=1, p=1)
    user = control.migrate_legacy_password(legacy)
    assert (user.name, user.role) == ("engineer", "engineer")
    assert control.login("engineer", "old secret").role == "engineer"
    assert control.migrate_legacy_password(legacy) is None  # only into an empty store


def _cli(argv, stdin="", capsys=None, monkeypatch=None):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_user_commands(capsys, monkeypatch):
    code, out, err = _cli(["user", "list"], capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0 and "no accounts" in err
    code, out, _ = _cli(["user", "add", "ada", "--role", "admin", "--password-stdin"], "first pw\n",
                        capsys, monkeypatch)
    assert code == 0 and "ada" in out
    _cli(["user", "add", "olga", "--role", "operator", "--password-stdin"], "olga-pw\n", capsys, monkeypatch)
    code, out, _ = _cli(["user", "list"], capsys=capsys, monkeypatch=monkeypatch)
    assert [line.split()[:2] for line in out.splitlines()] == [["ada", "admin"], ["olga", "operator"]]
    code, _, err = _cli(["user", "add", "x", "--role", "operator", "--password-stdin"], "", capsys, monkeypatch)
    assert code == 2 and "standard input is empty" in err
    code, _, err = _cli(["user", "passwd", "nobody", "--password-stdin"], "pw-pw\n", capsys, monkeypatch)
    assert code == 2 and "no user 'nobody'" in err
    assert _cli(["user", "passwd", "olga", "--password-stdin"], "new-pw\n", capsys, monkeypatch)[0] == 0
    store = AccountStore()
    assert store.authenticate("olga", "new-pw").name == "olga"
    code, _, err = _cli(["user", "remove", "ada"], capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and "last admin" in err
    code, _, err = _cli(["user", "role", "ada", "engineer"], capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and "last admin" in err
    assert _cli(["user", "role", "olga", "engineer"], capsys=capsys, monkeypatch=monkeypatch)[0] == 0
    assert store.get("olga").role == "engineer"
    assert _cli(["user", "remove", "olga"], capsys=capsys, monkeypatch=monkeypatch)[0] == 0
    assert [u.name for u in store.users()] == ["ada"]
    entries = AuditLog().read()
    assert [(e.action, e.target) for e in entries] == [
        ("create", "ada"), ("create", "olga"), ("password", "olga"), ("role", "olga"), ("remove", "olga")]
    assert all(e.user.startswith("os:") and e.role == "system" for e in entries)
    assert all(e.station == Settings().station.name for e in entries)
    assert "new-pw" not in AuditLog().path.read_text(encoding="utf-8")


def test_user_add_prompts_twice_without_echo(capsys, monkeypatch):
    answers = iter(["typed-pw", "typed-pw"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert cli.main(["user", "add", "eddie", "--role", "engineer"]) == 0
    assert AccountStore().authenticate("eddie", "typed-pw").role == "engineer"
    answers = iter(["one-pw", "two-pw"])
    assert cli.main(["user", "passwd", "eddie"]) == 2
    assert "differ" in capsys.readouterr().err


def test_a_login_the_audit_cannot_record_does_not_happen(control, tmp_path):
    from inspection_station.core.settings.audit import AuditError

    control.store.add("eddie", "engineer", "eng-pw")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    control.audit = AuditLog(blocker / "audit.jsonl")
    with pytest.raises(AuditError, match="cannot"):
        control.login("eddie", "eng-pw")
    assert control.session is None


def test_user_unlock_command_lifts_a_lockout(capsys, monkeypatch):
    clock = Clock()
    store = AccountStore(clock=clock)
    store.add("eve", "engineer", "right-pw")
    for _ in range(5):
        clock.now += 1000
        with pytest.raises(LoginRefused):
            store.authenticate("eve", "wrong")
    assert store.get("eve").locked
    code, out, _ = _cli(["user", "list"], capsys=capsys, monkeypatch=monkeypatch)
    assert "LOCKED" in out
    assert _cli(["user", "unlock", "eve"], capsys=capsys, monkeypatch=monkeypatch)[0] == 0
    assert store.authenticate("eve", "right-pw").name == "eve"
    assert AuditLog().read()[-1].action == "unlock"
