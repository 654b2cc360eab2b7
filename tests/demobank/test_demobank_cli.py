"""python -m demobank: seed and customers."""

from __future__ import annotations

from demobank.__main__ import main


def test_seed_then_list_customers(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/var/demobank.sqlite"  # the folder does not exist yet

    assert main(["seed", "--url", url]) == 0
    assert main(["seed", "--url", url]) == 0  # idempotent
    seeded = capsys.readouterr().out.splitlines()
    assert len(seeded) == 2
    assert seeded[0].startswith("seeded 6 customers, 13 cards, 22 transactions")
    assert seeded[0] == seeded[1]

    assert main(["customers", "--url", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "cus_1001\tAlice Moreau\tstandard"
    assert len(lines) == 6


def test_customers_on_an_unseeded_database_fails_cleanly(tmp_path, capsys):
    assert main(["customers", "--url", f"sqlite:///{tmp_path}/empty.sqlite"]) == 1
    assert "run `python -m demobank seed` first?" in capsys.readouterr().err


def test_url_defaults_to_the_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BANK_DATABASE_URL", f"sqlite:///{tmp_path}/from_env.sqlite")

    assert main(["seed"]) == 0
    assert "from_env.sqlite" in capsys.readouterr().out
