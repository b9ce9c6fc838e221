"""The benchmark table (behavioral/bench.py): ratio to ideal, first run, target, reference check."""

from behavioral.bench import table


def _run(model, seconds, first, same=True, target=None):
    return {"model": model, "threads": 1, "seconds": seconds, "cpu_seconds": seconds / 2,
            "first_seconds": first, "images_per_s": 10000 / seconds, "error_pct": 1.9,
            "same_as_reference": same, "target_seconds": target}


def test_table_gives_the_ratio_to_ideal_and_the_first_run():
    text = table({"runs": [_run("ideal", 2.0, 2.5, target=1.0), _run("td", 10.0, 40.0, False, 4.0),
                           _run("snntorch (ideal)", 3.0, None, None)]})
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in text.splitlines()[2:]}
    assert rows["td"] == ["1", "10.00", "5.00", "40.00", "1000", "5.0", "4.0", "1.90", "NO"]
    assert rows["ideal"][3] == "2.50" and rows["ideal"][5] == "1.0"
    assert rows["snntorch (ideal)"][3] == "-" and rows["snntorch (ideal)"][5] == "1.5"
