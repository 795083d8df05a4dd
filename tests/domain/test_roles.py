from casemgr.domain.roles import Role, primary_role


def test_every_role_has_a_label():
    assert {r.label for r in Role} >= {"Nurse", "Counselor", "Clinic manager"}


def test_clinical_home_comes_before_administrative():
    assert primary_role({Role.ADMIN, Role.NURSE}) is Role.NURSE
    assert primary_role({Role.ADMIN}) is Role.ADMIN
    assert primary_role(set()) is None


def test_domain_layer_imports_no_framework():
    import pathlib

    for path in pathlib.Path("casemgr/domain").glob("*.py"):
        text = path.read_text()
        assert "import flask" not in text and "from flask" not in text, path
        assert "sqlalchemy" not in text, path
