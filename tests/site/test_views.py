def test_home_shows_counts(testapp):
    res = testapp.get("/", status=200)
    assert "96 projects" in res.text
    assert "5547 releases" in res.text
    assert "19160 files" in res.text
