"""API users: tokens shown once, stored only as hashes, roles checked."""

from __future__ import annotations

import json

import pytest

from idwatch.api.users import UserError, add_user, authenticate, list_users, remove_user


def test_a_token_is_stored_only_as_its_hash(store):
    token = add_user(store, "ana", "analyst")
    text = (store.state_dir / "api_users.json").read_text()
    assert token.startswith("idw_") and len(token) > 40 and token not in text
    assert json.loads(text)[0]["token_sha256"]
    assert (store.state_dir / "api_users.json").stat().st_mode & 0o077 == 0
    assert authenticate(store, token).role == "analyst" and authenticate(store, token + "x") is None


def test_names_are_unique_and_roles_known(store):
    add_user(store, "ana", "viewer")
    with pytest.raises(UserError, match="exists"):
        add_user(store, "ana", "analyst")
    with pytest.raises(UserError, match="role"):
        add_user(store, "bob", "admin")
    with pytest.raises(UserError, match="name"):
        add_user(store, "bob smith", "viewer")


def test_removing_a_user_revokes_its_token(store):
    token = add_user(store, "ana", "viewer")
    assert list_users(store) == [
        {"name": "ana", "role": "viewer", "created_at": list_users(store)[0]["created_at"]}
    ]
    assert remove_user(store, "ana") and authenticate(store, token) is None and not remove_user(store, "ana")


def test_the_cli_prints_the_token_once_and_lists_no_secret(store):
    from typer.testing import CliRunner

    from idwatch.cli.main import app

    runner = CliRunner()
    out = runner.invoke(app, ["users", "add", "ana", "--role", "analyst", "--store", str(store.root)])
    assert out.exit_code == 0
    token = out.stdout.strip().splitlines()[-1]
    assert authenticate(store, token).name == "ana"
    listed = runner.invoke(app, ["users", "list", "--json", "--store", str(store.root)])
    assert json.loads(listed.stdout) == list_users(store) and token not in listed.stdout
    bad = runner.invoke(app, ["users", "add", "bob", "--role", "root", "--store", str(store.root)])
    assert bad.exit_code == 2 and "role" in bad.output


def test_serve_and_users_refuse_a_store_that_does_not_exist(tmp_path):
    from typer.testing import CliRunner

    from idwatch.cli.main import app

    runner = CliRunner()
    for args in (["serve"], ["users", "add", "ana"]):
        out = runner.invoke(app, [*args, "--store", str(tmp_path / "nope")])
        assert out.exit_code == 2 and "no store" in out.output
    assert not (tmp_path / "nope").exists()
