"""Mode `text`: descriptions for items with thin text and user profiles, written as marked
columns of items.parquet and users.parquet."""

from __future__ import annotations

import pyarrow.compute as pc
import pyarrow.parquet as pq

from recaug_core import GENERATED_MARK

SMALL_DEMO = ["-s", "users=60", "-s", "items=60", "-s", "interactions=900"]


def test_text_mode_writes_descriptions_and_profiles(recaug, fast, tmp_path):
    out = tmp_path / "run"
    # thin_words above any demo text's length: every item counts as thinly described.
    opts = {**fast, "mode": "text", "thin_words": 1000}
    args = [arg for key, value in opts.items() for arg in ("-o", f"{key}={value}")]
    result = recaug(
        "augment", "demo", *SMALL_DEMO, "--strategy", "lora-gen", *args,
        "--target", "all", "--out", out,
    )  # fmt: skip
    assert result.code == 0, result.err
    items = pq.read_table(out / "items.parquet")
    users = pq.read_table(out / "users.parquet")
    for table, column in ((items, "gen_description"), (users, "gen_profile")):
        field = table.schema.field(column)
        assert field.metadata[GENERATED_MARK] == b"lora-gen"
        assert table.column(column).null_count < table.num_rows
    titles = set(items.column("title").to_pylist())
    descriptions = items.column("gen_description").drop_null().to_pylist()
    assert not any(title in text for text in descriptions for title in titles)
    assert pq.read_table(out / "synthetic.parquet").num_rows == 0
    assert pc.all(pc.equal(pq.read_table(out / "generated_text.parquet")["origin"], "lora-gen"))
