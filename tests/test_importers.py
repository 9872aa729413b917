"""Importers: files written here in each format come back as the same devices and check-ins."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from venn_gym import importers, requirements
from venn_gym.errors import ScenarioWarning, SpecError
from venn_gym.importers import (
    PERIOD_RULE,
    VENN_COMPUTE_REFERENCE,
    VENN_ONLINE_EXTENSION_S,
    VENN_PERIOD_S,
    comm_s_to_model_size_mb,
    load_fedscale_capacity,
    map_device_columns,
    read_devices_csv,
    read_fedscale_availability,
    read_fedscale_capacity,
    read_jobs_csv,
    read_trace_csv,
    read_venn_client_table,
)
from venn_gym.trace import DAY_S, TableTrace


def dump(path, obj):
    with open(path, "wb") as handle:
        pickle.dump(obj, handle)
    return path


def write(path, text):
    path.write_text(text)
    return path


def rows_of(trace):
    """The trace's table as a set of (start, end, device)."""
    return {(float(s), float(e), int(d)) for s, e, d in zip(trace.start, trace.end, trace.device)}


def chunk_rows(trace, index):
    c = trace.chunk(index, seed=0)
    return sorted(zip(c.time.tolist(), c.end.tolist(), c.device.tolist()))


# ------------------------------------------------------------------ FedScale availability

BEHAVIOR = {
    30: {"active": [100, 5000], "inactive": [400, 5600], "finish_time": 8000, "duration": 8000, "model": "Pixel 4"},
    7: {"active": [0.5], "inactive": [90.5], "finish_time": 7000, "duration": 7000, "model": "Galaxy S9"},
    12: {"active": [2000, 3000, 9000], "inactive": [2500, 3100, 9500], "finish_time": 9000, "duration": 9000},
}


def test_fedscale_availability_round_trip(tmp_path):
    imported = read_fedscale_availability(dump(tmp_path / "client_behave_trace", BEHAVIOR))
    assert imported.client_ids == (7, 12, 30)  # dense indices in sorted id order
    assert imported.device_index() == {7: 0, 12: 1, 30: 2}
    assert imported.models == ("Galaxy S9", "", "Pixel 4")
    expected = {(0.5, 90.5, 0), (2000, 2500, 1), (3000, 3100, 1), (9000, 9500, 1), (100, 400, 2), (5000, 5600, 2)}
    assert rows_of(imported.trace) == expected
    # period: max(finish_time, last inactive) = 9500
    assert imported.trace.period_s == 9500
    assert imported.dropped_windows == 0
    assert np.all(np.diff(imported.trace.start) >= 0)
    assert imported.trace.source.endswith("client_behave_trace")


def test_fedscale_availability_period_repeats_and_drops(tmp_path):
    imported = read_fedscale_availability(
        dump(tmp_path / "trace.pkl", BEHAVIOR), period_s=3600.0, chunk_s=600.0, drop_after_period=True
    )
    assert imported.trace.period_s == 3600.0
    assert imported.dropped_windows == 2  # 5000 and 9000 start after the period
    assert rows_of(imported.trace) == {(0.5, 90.5, 0), (2000, 2500, 1), (3000, 3100, 1), (100, 400, 2)}
    # chunk 6 = [3600, 4200) holds the repeats of the windows starting in [0, 600)
    assert chunk_rows(imported.trace, 6) == [(3600.5, 3690.5, 0), (3700.0, 4000.0, 2)]


def test_fedscale_availability_trailing_active_closes_at_finish(tmp_path):
    data = {1: {"active": [10, 50], "inactive": [20], "finish_time": 100}}
    imported = read_fedscale_availability(dump(tmp_path / "t.pkl", data))
    assert rows_of(imported.trace) == {(10, 20, 0), (50, 100, 0)}
    assert imported.models is None


def _behavior_with(**changes):
    client = {"active": [10, 50], "inactive": [20, 60], "finish_time": 100}
    client.update(changes)
    return {1: {"active": [0], "inactive": [5], "finish_time": 100}, 2: client}


@pytest.mark.parametrize(
    "data, match",
    [
        ({}, "holds no clients"),
        ([1, 2, 3], "holds a list; expected a FedScale client_behave_trace"),
        ({1: [0, 10]}, r"client 1: expected a dict"),
        ({1: {"active": [0, 10]}}, r"client 1: missing key\(s\) \['inactive'\]"),
        (_behavior_with(active=[10, "noon"]), r"client 2\.active\[1\]: expected a number of seconds, got 'noon'"),
        (_behavior_with(inactive=[20, None]), r"client 2\.inactive\[1\]: expected a number"),
        (_behavior_with(inactive=[20, 50]), r"client 2: window 1: leaves at 50\.0 .*expected inactive > active"),
        (_behavior_with(inactive=[10, 60]), r"client 2: window 0"),
        (_behavior_with(active=[-5, 50]), r"client 2\.active\[0\]: is negative"),
        (_behavior_with(active=[10, 50, 70], inactive=[20]), r"client 2: has 3 'active' times but 1 'inactive' times"),
        (_behavior_with(finish_time="end"), r"client 2\.finish_time: expected a number"),
        ({1: {"active": [], "inactive": []}}, "no client has an online window"),
    ],
)
def test_fedscale_availability_errors(tmp_path, data, match):
    path = dump(tmp_path / "client_behave_trace", data)
    with pytest.raises(SpecError, match=match) as info:
        read_fedscale_availability(path)
    assert info.value.source == str(path)


def test_pickle_files_that_are_not_pickles(tmp_path):
    empty = write(tmp_path / "empty.pkl", "")
    with pytest.raises(SpecError, match=r"empty\.pkl: the file is empty"):
        read_fedscale_availability(empty)
    garbage = write(tmp_path / "garbage.pkl", "ID,start,end\n1,2,3\n")
    with pytest.raises(SpecError, match=r"garbage\.pkl: cannot be read as a pickle"):
        read_fedscale_availability(garbage)
    with pytest.raises(SpecError, match=r"missing\.pkl: file not found"):
        read_fedscale_capacity(tmp_path / "missing.pkl")


# ---------------------------------------------------------------------- FedScale capacity

CAPACITY = {
    3: {"computation": 60.0, "communication": 8000.0},
    1: {"computation": 120.0, "communication": 20000.0},
    2: {"computation": 30.0, "communication": 2000.0},
}


def test_fedscale_capacity_divides_by_means(tmp_path):
    path = dump(tmp_path / "client_device_capacity", CAPACITY)
    table = load_fedscale_capacity(path)
    assert table.client_ids == (1, 2, 3)
    assert table.compute_mean == pytest.approx(70.0)
    assert table.communication_mean == pytest.approx(10000.0)
    pop = read_fedscale_capacity(path)
    assert len(pop) == 3
    np.testing.assert_allclose(pop.compute_factor, [120 / 70, 30 / 70, 60 / 70])
    assert pop.compute_factor.mean() == pytest.approx(1.0)
    np.testing.assert_allclose(pop.bandwidth_mbps, [20.0, 2.0, 8.0])  # kbit/s -> Mbit/s
    np.testing.assert_allclose(table.relative_bandwidth(), [2.0, 0.2, 0.8])


def test_fedscale_capacity_picks(tmp_path):
    path = dump(tmp_path / "cap.pkl", CAPACITY)
    by_id = read_fedscale_capacity(path, client_ids=[3, 3, 1])
    np.testing.assert_allclose(by_id.bandwidth_mbps, [8.0, 8.0, 20.0])
    cycled = read_fedscale_capacity(path, n_devices=5)
    np.testing.assert_allclose(cycled.bandwidth_mbps, [20.0, 2.0, 8.0, 20.0, 2.0])
    with pytest.raises(SpecError, match="has no entry for client 9"):
        read_fedscale_capacity(path, client_ids=[1, 9])


@pytest.mark.parametrize(
    "entry, match",
    [
        ({"computation": 50.0}, r"client 2: missing key\(s\) \['communication'\]"),
        (
            {"computation": "fast", "communication": 1.0},
            r"client 2\.computation: expected a finite number > 0, got 'fast'",
        ),
        (
            {"computation": 50.0, "communication": 0.0},
            r"client 2\.communication: expected a number in \(0, 1e\+12\], got 0\.0",
        ),
        ({"computation": float("nan"), "communication": 1.0}, r"client 2\.computation"),
        (
            {"computation": 1e308, "communication": 1.0},
            r"client 2\.computation: expected a number in \(0, 1e\+12\], got 1e\+308",
        ),
        (
            {"computation": 1e308, "communication": 1.0},
            r"client 2\.computation: expected a number in \(0, 1e\+12\], got 1e\+308",
        ),
        ([50.0, 1000.0], r"client 2: expected a dict"),
    ],
)
def test_fedscale_capacity_errors(tmp_path, entry, match):
    path = dump(tmp_path / "cap.pkl", {1: {"computation": 1.0, "communication": 1.0}, 2: entry})
    with pytest.raises(SpecError, match=match):
        read_fedscale_capacity(path)
    with pytest.raises(SpecError, match="holds a tuple"):
        read_fedscale_capacity(dump(tmp_path / "tuple.pkl", (1, 2)))


# ---------------------------------------------------------------------- Venn client table

# Unsorted check-ins; row order after sorting by start: ids 11, 12, 13, 14, 15, 16, 17.
VENN_ROWS = [
    (13, 500.0, 800.0),
    (11, 0.0, 60.0),
    (15, 2 * DAY_S, 2 * DAY_S + 1000),
    (12, 100.0, 250.0),
    (17, 4 * DAY_S, 4 * DAY_S + 30),
    (14, 3600.0, 3700.0),
    (16, 3 * DAY_S, 3 * DAY_S + 10),
]
VENN_CAPACITY = {  # keys 1..4 as in the authors' file
    1: {"computation": 40.0, "communication": 10000.0},
    2: {"computation": 80.0, "communication": 20000.0},
    3: {"computation": 120.0, "communication": 4000.0},
    4: {"computation": 80.0, "communication": 6000.0},
}
VENN_ELIGIBILITY = [[1], [1, 2, 3, 4], [1, 3]]


def write_venn_files(tmp_path, rows=VENN_ROWS, capacity=VENN_CAPACITY, eligibility=VENN_ELIGIBILITY):
    table = tmp_path / "clients.csv"
    pd.DataFrame(rows, columns=["ID", "start", "end"]).to_csv(table)  # leading unnamed index, as the authors'
    return table, dump(tmp_path / "eligibility", eligibility), dump(tmp_path / "capacity", capacity)


def test_venn_client_table_follows_the_authors_mapping(tmp_path):
    files = write_venn_files(tmp_path)
    assert files[0].read_text().startswith(",ID,start,end\n0,13,500.0,800.0")
    imported = read_venn_client_table(*files)
    ordered = sorted(VENN_ROWS, key=lambda r: r[1])
    n = len(ordered)
    pop, trace = imported.population, imported.trace
    assert len(pop) == n
    np.testing.assert_array_equal(imported.client_ids, [r[0] for r in ordered])
    # Row i is device i; windows end 80 s late, as in the authors' simulator.
    np.testing.assert_array_equal(trace.device, np.arange(n))
    np.testing.assert_array_equal(trace.start, [r[1] for r in ordered])
    np.testing.assert_array_equal(trace.end, [r[2] + VENN_ONLINE_EXTENSION_S for r in ordered])
    assert trace.period_s == VENN_PERIOD_S == 5 * DAY_S
    # Row i takes capacity key (i mod 4) + 1 and eligibility entry i mod 3.
    np.testing.assert_array_equal(imported.capacity_keys, [1, 2, 3, 4, 1, 2, 3])
    assert imported.compute_mean == pytest.approx(80.0)
    assert imported.communication_mean == pytest.approx(10000.0)
    comp = np.array([VENN_CAPACITY[k]["computation"] for k in imported.capacity_keys])
    comm = np.array([VENN_CAPACITY[k]["communication"] for k in imported.capacity_keys])
    np.testing.assert_allclose(pop.compute_factor, comp / 80.0)
    np.testing.assert_allclose(pop.bandwidth_mbps, comm / 1000.0)
    masks = {0: 0b0001, 1: 0b1111, 2: 0b0101}
    np.testing.assert_array_equal(pop.attributes["categories"], [masks[i % 3] for i in range(n)])
    assert imported.dropped_rows == 0


def test_venn_client_table_repeats_every_five_days(tmp_path):
    trace = read_venn_client_table(*write_venn_files(tmp_path)).trace
    period_chunks = int(5 * DAY_S // trace.chunk_s)
    for index in (0, 1, 48, 96):
        first = chunk_rows(trace, index)
        assert first, index
        again = chunk_rows(trace, index + period_chunks)
        assert again == [(s + 5 * DAY_S, e + 5 * DAY_S, d) for s, e, d in first]
        twice = chunk_rows(trace, index + 2 * period_chunks)
        assert twice == [(s + 10 * DAY_S, e + 10 * DAY_S, d) for s, e, d in first]
    # The check-in of device 1 (start 100 s) reappears at 100 s + 5 days.
    assert (100.0 + 5 * DAY_S, 250.0 + 80 + 5 * DAY_S, 1) in chunk_rows(trace, period_chunks)


def test_venn_client_table_options_and_dropped_rows(tmp_path):
    rows = VENN_ROWS + [(18, 6 * DAY_S, 6 * DAY_S + 50)]  # day 6: beyond the 5 simulated days
    imported = read_venn_client_table(*write_venn_files(tmp_path, rows=rows), online_extension_s=0.0)
    assert imported.dropped_rows == 1
    assert len(imported.population) == len(VENN_ROWS)
    assert rows_of(imported.trace) == {(s, e, i) for i, (_, s, e) in enumerate(sorted(VENN_ROWS, key=lambda r: r[1]))}
    short = read_venn_client_table(*write_venn_files(tmp_path), period_s=DAY_S)
    assert short.dropped_rows == 3 and short.trace.period_s == DAY_S


def test_venn_client_table_ties_keep_file_order(tmp_path):
    rows = [(1, 50.0, 90.0), (2, 10.0, 20.0), (3, 50.0, 70.0), (4, 50.0, 60.0)]
    imported = read_venn_client_table(*write_venn_files(tmp_path, rows=rows))
    np.testing.assert_array_equal(imported.client_ids, [2, 1, 3, 4])


@pytest.mark.parametrize(
    "text, match",
    [
        (",ID,start\n0,1,2\n", r"line 1 \(header\): missing column\(s\) \['end'\]"),
        (",ID,start,end\n0,1,2,3\n1,2,soon,5\n", r"line 3, column 'start': expected a number, got 'soon'"),
        (",ID,start,end\n0,1,2,3\n1,2,4,\n", r"line 3, column 'end': expected a number, missing value"),
        (",ID,start,end\n0,1,200,3\n", r"line 2, column 'end': end 3\.0 is before start 200\.0"),
        (",ID,start,end\n0,1,-2,3\n", r"line 2, column 'start': start -2\.0 is negative"),
        (",ID,start,end\n", "has a header but no rows"),
        (",ID,start,end\n0,1,2,3\n1,2,4,5,6\n", r"cannot be read as CSV: .*Expected 4 fields in line 3, saw 5$"),
        ("", "the file is empty"),
    ],
)
def test_venn_client_table_errors(tmp_path, text, match):
    _, eligibility, capacity = write_venn_files(tmp_path)
    table = write(tmp_path / "bad.csv", text)
    with pytest.raises(SpecError, match=match) as info:
        read_venn_client_table(table, eligibility, capacity)
    assert "bad.csv" in str(info.value)


def test_venn_client_table_end_equal_start_needs_the_extension(tmp_path):
    _, eligibility, capacity = write_venn_files(tmp_path)
    table = write(tmp_path / "t.csv", ",ID,start,end\n0,1,5,5\n")
    assert read_venn_client_table(table, eligibility, capacity).trace.end[0] == 85.0
    with pytest.raises(SpecError, match="end 5.0 is not after start 5.0"):
        read_venn_client_table(table, eligibility, capacity, online_extension_s=0)


@pytest.mark.parametrize(
    "eligibility, capacity, match",
    [
        ([[1], [64]], VENN_CAPACITY, r"eligibility: entry 1: expected category numbers 1-63, got 64"),
        ([[1], [0]], VENN_CAPACITY, r"eligibility: entry 1: expected category numbers 1-63, got 0"),
        ([[1], "12"], VENN_CAPACITY, r"eligibility: entry 1: expected a list of category numbers"),
        ({0: [1]}, VENN_CAPACITY, r"eligibility: holds a dict; expected a pickled list"),
        ([], VENN_CAPACITY, r"eligibility: holds an empty list"),
        (VENN_ELIGIBILITY, {1: VENN_CAPACITY[1], 3: VENN_CAPACITY[3]}, r"capacity: has no key 2; .*keys 1\.\.2"),
        (VENN_ELIGIBILITY, {1: {"computation": 1.0}}, r"capacity: client 1: missing key"),
        (VENN_ELIGIBILITY, [1, 2], r"capacity: holds a list"),
    ],
)
def test_venn_client_table_side_file_errors(tmp_path, eligibility, capacity, match):
    files = write_venn_files(tmp_path, eligibility=eligibility, capacity=capacity)
    with pytest.raises(SpecError, match=match):
        read_venn_client_table(*files)


# ----------------------------------------------------------------------- hand CSV trace

TRACE_CSV = """# a comment line
device,start_s,end_s
2,300,900

1, 0 ,120.5
0,60,400
# another comment
2,3000,3500
"""


def test_trace_csv_round_trip(tmp_path):
    trace = read_trace_csv(write(tmp_path / "trace.csv", TRACE_CSV))
    assert rows_of(trace) == {(300, 900, 2), (0, 120.5, 1), (60, 400, 0), (3000, 3500, 2)}
    assert trace.period_s == 3500  # default: the last end
    assert trace.n_devices == 3
    daily = read_trace_csv(tmp_path / "trace.csv", period_s=DAY_S, chunk_s=3600)
    assert daily.period_s == DAY_S
    assert chunk_rows(daily, 24) == [
        (DAY_S, DAY_S + 120.5, 1),
        (DAY_S + 60, DAY_S + 400, 0),
        (DAY_S + 300, DAY_S + 900, 2),
        (DAY_S + 3000, DAY_S + 3500, 2),
    ]


@pytest.mark.parametrize(
    "text, kwargs, match",
    [
        ("device,start_s\n0,1\n", {}, r"line 1 \(header\): missing column\(s\) \['end_s'\]"),
        ("# c\ndevice,start,end_s\n0,1,2\n", {}, r"line 2 \(header\): missing column\(s\) \['start_s'\]"),
        (
            "device,start_s,end_s\n0,1,2\n# c\n\n1,one,5\n",
            {},
            r"line 5, column 'start_s': expected a number, got 'one'",
        ),
        (
            "device,start_s,end_s\n0,1,2\n1,,5\n",
            {},
            r"line 3, column 'start_s': expected a number, got a missing value",
        ),
        ("device,start_s,end_s\n0,1,2\n1.5,3,5\n", {}, r"line 3, column 'device': expected an integer, got '1.5'"),
        ("device,start_s,end_s\n0,10,10\n", {}, r"line 2, column 'end_s': end_s 10\.0 is not after start_s 10\.0"),
        ("device,start_s,end_s\n0,10,20\n0,30,5\n", {}, r"line 3, column 'end_s'"),
        ("device,start_s,end_s\n0,-10,20\n", {}, r"line 2, column 'start_s': start_s must be >= 0"),
        ("device,start_s,end_s\n-1,10,20\n", {}, r"line 2, column 'device': device indices must be >= 0"),
        ("device,start_s,end_s\n0,10,20\n7,10,20\n", {"n_devices": 5}, r"line 3, column 'device': device 7 is not in"),
        ("device,start_s,end_s\n0,10,20\n1,100,200\n", {"period_s": 50}, r"line 3, column 'start_s'.*period"),
        ("device,start_s,end_s,note\n0,1,2,x\n", {}, r"unexpected column\(s\) \['note'\]"),
        ("device,start_s,end_s,start_s\n0,1,2,3\n", {}, r"column 'start_s' appears twice"),
        ("device,start_s,end_s\n0,1,2,3\n", {}, r"line 2: has 4 fields but the header names 3 columns"),
        ("device,start_s,end_s\n", {}, "has a header but no rows"),
        ("# only a comment\n\n", {}, "has no header and no rows"),
        ("", {}, "the file is empty"),
    ],
)
def test_trace_csv_errors(tmp_path, text, kwargs, match):
    path = write(tmp_path / "trace.csv", text)
    with pytest.raises(SpecError, match=match) as info:
        read_trace_csv(path, **kwargs)
    assert str(info.value).startswith(str(path))


def plain_trace_text(rows=2_000, seed=0):
    """A plain check-in table whose numbers come in every form a writer might use."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(0, 86_400, rows)
    end = start + rng.lognormal(6, 1, rows)
    device = rng.permutation(rows)  # a window per device: no overlap to warn of
    forms = [repr, lambda x: f"{x:.3f}", lambda x: f"{x:.6e}", lambda x: f"{x:.20f}", lambda x: f"{x:.0f}."]
    lines = [
        f"{d},{forms[k % len(forms)](s)},{forms[(k + 1) % len(forms)](e)}"
        for k, (d, s, e) in enumerate(zip(device.tolist(), start.tolist(), end.tolist()))
    ]
    lines[1] = "7,.5,1e2"
    return "device,start_s,end_s\n" + "\n".join(lines) + "\n\n"


def test_a_plain_trace_csv_is_read_in_one_pass_as_the_line_by_line_reader_reads_it(tmp_path, monkeypatch):
    text = plain_trace_text()
    other_forms = {
        "comment": "# a comment\n" + text,
        "spaces": text.replace(",", ", "),
        "crlf": text.replace("\n", "\r\n"),
        "blank line": text.replace("\n", "\n\n", 5),
        "quotes": text.replace("7,.5", '"7",.5'),
        "columns in another order": "start_s,device,end_s\n"
        + "\n".join(f"{s},{d},{e}" for d, s, e in (line.split(",") for line in text.split()[1:])),
    }
    traces = {name: read_trace_csv(write(tmp_path / "other.csv", t)) for name, t in other_forms.items()}

    def read_line_by_line(*args, **kwargs):
        raise AssertionError("a plain table was read line by line")

    monkeypatch.setattr(importers, "_read_hand_csv", read_line_by_line)
    plain = read_trace_csv(write(tmp_path / "plain.csv", "\ufeff" + text))  # a byte-order mark is plain too
    for name, trace in traces.items():
        for field in ("start", "end", "device"):
            assert getattr(trace, field).dtype == getattr(plain, field).dtype
            assert getattr(trace, field).tobytes() == getattr(plain, field).tobytes(), (name, field)


@pytest.mark.parametrize(
    "text",
    [
        "device,start_s,end_s\n0,1,2\n# c\n1,3,4\n",
        "device,start_s,end_s\n0,1,2\n\n1,3,4\n",
        "device,start_s,end_s\n0, 1,2\n",
        'device,start_s,end_s\n0,"1",2\n',
        "device,start_s,end_s\r\n0,1,2\r\n",
        "\ndevice,start_s,end_s\n0,1,2\n",
        "device,start_s\n0,1\n",
        "device,start_s,end_s,note\n0,1,2,3\n",
        "device,start_s,start_s\n0,1,2\n",
        "device,start_s,end_s\n0,1,2,3\n1,2\n",
        "device,start_s,end_s\n0,1\n",
        "device,start_s,end_s\n0,one,2\n",
        "device,start_s,end_s\n0,,2\n",
        "device,start_s,end_s\n0,nan,2\n",
        "device,start_s,end_s\n0,1,inf\n",
        "device,start_s,end_s\n0,1,9007199254740993\n",
        "device,start_s,end_s\n0,1,2é\n",
        "device,start_s,end_s\n",
    ],
)
def test_any_other_trace_csv_is_left_to_the_line_by_line_reader(tmp_path, text):
    assert importers._read_plain_numeric_csv(write(tmp_path / "t.csv", text), importers.TRACE_CSV_COLUMNS) is None


def test_windows_of_a_device_that_start_together_are_ordered_by_their_end_in_warnings():
    # Row 0 ends last: by device, start, end and row the table reads 1, 2, 0, so the first overlap
    # is rows 2 and 0 (rows 1 and 2 repeat each other).
    with pytest.warns(ScenarioWarning) as warned:
        TableTrace(
            start=np.array([10.0, 10, 10, 0]),
            end=np.array([50.0, 30, 30, 5]),
            device=np.array([0, 0, 0, 1]),
            period_s=100,
            source="t.csv",
        )
    assert "first: row 2 = row 1, device 0" in str(warned[0].message)
    assert "first: rows 2 and 0" in str(warned[1].message)


# --------------------------------------------------------------------- hand CSV devices

DEVICES_CSV = """device,compute_factor,bandwidth_mbps,categories,ram_gb,os_version
# rows in any order
2,1.5,5,1,4,10
0,0.5,20,15,12,13
1,1.0,10,3,6,11.5
"""


def test_devices_csv_round_trip(tmp_path):
    pop = read_devices_csv(write(tmp_path / "devices.csv", DEVICES_CSV))
    assert len(pop) == 3
    np.testing.assert_array_equal(pop.compute_factor, [0.5, 1.0, 1.5])
    np.testing.assert_array_equal(pop.bandwidth_mbps, [20, 10, 5])
    assert sorted(pop.attributes) == ["categories", "os_version", "ram_gb"]
    np.testing.assert_array_equal(pop.attributes["categories"], [15, 3, 1])
    assert pop.attributes["categories"].dtype.kind == "i"
    np.testing.assert_array_equal(pop.attributes["ram_gb"], [12, 6, 4])
    np.testing.assert_array_equal(pop.attributes["os_version"], [13, 11.5, 10])
    minimal = read_devices_csv(write(tmp_path / "min.csv", "device,compute_factor,bandwidth_mbps\n0,1,8\n"))
    assert len(minimal) == 1 and dict(minimal.attributes) == {}


@pytest.mark.parametrize(
    "text, match",
    [
        ("device,compute_factor\n0,1\n", r"line 1 \(header\): missing column\(s\) \['bandwidth_mbps'\]"),
        (
            "device,compute_factor,bandwidth_mbps,ram_gb\n0,1,8,4\n1,1,8,lots\n",
            r"line 3, column 'ram_gb': expected a number, got 'lots'",
        ),
        ("device,compute_factor,bandwidth_mbps\n0,1,8\n0,2,8\n", r"line 3, column 'device': device 0 appears twice"),
        ("device,compute_factor,bandwidth_mbps\n0,1,8\n2,2,8\n", r"line 3, column 'device': .*device 1 is missing"),
        ("device,compute_factor,bandwidth_mbps\n0,0,8\n", r"line 2, column 'compute_factor': must be > 0"),
        ("device,compute_factor,bandwidth_mbps\n0,1,-8\n", r"line 2, column 'bandwidth_mbps': must be > 0"),
        ("device,compute_factor,bandwidth_mbps,categories\n0,1,8,-1\n", r"line 2, column 'categories': is a bit mask"),
        ("device,compute_factor,bandwidth_mbps,categories\n0,1,8,1.5\n", r"column 'categories': expected an integer"),
    ],
)
def test_devices_csv_errors(tmp_path, text, match):
    path = write(tmp_path / "devices.csv", text)
    with pytest.raises(SpecError, match=match) as info:
        read_devices_csv(path)
    assert str(info.value).startswith(str(path))


# ------------------------------------------------------------- the period boundary rule


def test_both_checkin_readers_reject_a_row_starting_at_the_period(tmp_path):
    """One rule (PERIOD_RULE): [0, period_s); start == period_s is outside, in both readers."""
    csv_path = write(tmp_path / "trace.csv", "device,start_s,end_s\n0,0,100\n1,3600,3700\n0,4000,4100\n")
    with pytest.raises(
        SpecError,
        match=r"line 3, column 'start_s': start_s 3600\.0 is not inside the period "
        r"\[0, 3600\) s \(2 row\(s\).*drop_after_period",
    ):
        read_trace_csv(csv_path, period_s=3600)
    dropped = read_trace_csv(csv_path, period_s=3600, drop_after_period=True)
    assert rows_of(dropped) == {(0, 100, 0)}
    with pytest.raises(SpecError, match="no row starts before period_s = 10"):
        read_trace_csv(
            write(tmp_path / "late.csv", "device,start_s,end_s\n0,20,30\n"), period_s=10, drop_after_period=True
        )

    pkl = dump(
        tmp_path / "behave",
        {
            1: {"active": [0], "inactive": [100], "finish_time": 5000},
            2: {"active": [50, 3600], "inactive": [60, 3700], "finish_time": 5000},
        },
    )
    with pytest.raises(
        SpecError,
        match=r"client 2: window 1 starts at 3600\.0 s \(active\[1\]\), not inside the "
        r"period \[0, 3600\) s .*drop_after_period",
    ) as info:
        read_fedscale_availability(pkl, period_s=3600)
    assert info.value.source == str(pkl)
    imported = read_fedscale_availability(pkl, period_s=3600, drop_after_period=True)
    assert imported.dropped_windows == 1 and rows_of(imported.trace) == {(0, 100, 0), (50, 60, 1)}
    # Just inside the period: kept by both.
    assert (3600.0, 3700.0, 1) in rows_of(read_fedscale_availability(pkl, period_s=3600.5).trace)
    assert (3600.0, 3700.0, 1) in rows_of(read_trace_csv(csv_path, period_s=4000.5))
    assert "[0, period_s)" in PERIOD_RULE


# --------------------------------------------------------- categories beyond the paper's 4


def test_eligibility_with_more_than_four_categories(tmp_path):
    files = write_venn_files(tmp_path, eligibility=[[1, 5], [2, 6], [1]])
    pop = read_venn_client_table(*files).population
    masks = pop.attributes["categories"]
    np.testing.assert_array_equal(masks, [0b10001, 0b100010, 0b1, 0b10001, 0b100010, 0b1, 0b10001])
    names = ["general", "gpu", "big_ram", "high_performance", "npu", "tablet"]
    npu = requirements.name_categories("npu", names)
    assert npu == {"category": 5, "name": "npu"}
    np.testing.assert_array_equal(
        requirements.evaluate(npu, pop.attributes, len(pop)), [True, False, False, True, False, False, True]
    )
    assert requirements.label(npu) == "npu"
    # Beyond 8 categories the mask is 64-bit.
    wide = read_venn_client_table(*write_venn_files(tmp_path, eligibility=[[1, 20], [63]])).population
    assert wide.attributes["categories"].dtype == np.int64
    deep = {"category": 63, "name": "c63"}
    np.testing.assert_array_equal(requirements.evaluate(deep, wide.attributes, len(wide))[:2], [False, True])


def test_named_categories_label_and_group():
    names = ("general", "gpu", "big_ram", "high_performance", "npu")
    gpu = requirements.name_categories("gpu", names)
    assert gpu == requirements.name_categories(2, names) == {"category": 2, "name": "gpu"}
    assert requirements.label(gpu) == "gpu"  # not the paper's 'compute_rich'
    assert requirements.key(gpu) == requirements.key("compute_rich")  # same devices, same group
    assert requirements.label("compute_rich") == "compute_rich"  # the paper's names as before
    combined = requirements.name_categories(
        {"all": ["npu", {"not": 3}, {"attr": "ram_gb", "op": ">=", "value": 8}]}, names
    )
    assert requirements.label(combined) == "(npu & not(big_ram) & ram_gb>=8)"
    assert requirements.name_categories("any_device", names) == "any_device"
    with pytest.raises(
        SpecError,
        match=r"requirement\.any\[1\]: unknown category 'compute_rich'; this scenario's "
        r"categories are 1 general, 2 gpu",
    ):
        requirements.name_categories({"any": ["gpu", "compute_rich"]}, names)
    with pytest.raises(SpecError, match="unknown category 6"):
        requirements.name_categories(6, names)
    with pytest.raises(SpecError, match=r"category must be 1-4 .*categories above 4 need names"):
        requirements.normalize(5)
    with pytest.raises(SpecError, match="category must be 1-63"):
        requirements.normalize({"category": 64, "name": "x"})
    with pytest.raises(SpecError, match=r"category_names\[2\]: name 'gpu' appears twice \(also category 2\)"):
        requirements.check_category_names(["general", "gpu", "gpu"])
    with pytest.raises(SpecError, match="non-empty list"):
        requirements.check_category_names("general")


# ------------------------------------------------------------------------ job-list CSV

JOBS_CSV = """# the authors' jobs: workload 30, comm 10
arrival_s,category,participants,rounds,deadline_s,quorum,workload_s,comm_s,mode,buffer_size,name
3600,1,100,50,900,,30,10,,,a
4000,compute_rich,20,5,600,0.5,,,async,10,
"""


def test_jobs_csv_round_trip(tmp_path):
    workload = read_jobs_csv(write(tmp_path / "jobs.csv", JOBS_CSV))
    assert workload.name == "jobs" and len(workload) == 2
    a, b = workload.jobs
    assert (a.name, a.arrival_s, a.requirement, a.participants, a.rounds, a.deadline_s) == ("a", 3600, 1, 100, 50, 900)
    assert a.quorum == 0.8 and a.workload_s == 30 and a.mode == "sync"
    assert a.model_size_mb == pytest.approx(10 * 13.736 / 8)
    assert (b.name, b.requirement, b.quorum, b.workload_s, b.model_size_mb, b.mode, b.buffer_size) == (
        "job1",
        "compute_rich",
        0.5,
        30.0,
        5.0,
        "async",
        10,
    )
    text = (
        "arrival_s,requirement,participants,rounds,deadline_s\n"
        "10,\"{attr: ram_gb, op: '>=', value: 8}\",2,1,60\n"
        '0,"{""all"": [""general"", {""not"": 4}]}",1,1,60\n'
        "5,any_device,1,1,60\n"
        "7,4,1,1,60\n"
    )
    jobs = read_jobs_csv(write(tmp_path / "req.csv", text), name="mine")
    assert jobs.name == "mine"
    assert [j.arrival_s for j in jobs.jobs] == [0, 5, 7, 10]  # arrival order
    assert [requirements.label(j.requirement) for j in jobs.jobs] == [
        "(general & not(high_performance))",
        "any_device",
        "high_performance",
        "ram_gb>=8",
    ]


def test_jobs_csv_with_category_names(tmp_path):
    names = ["general", "gpu", "big_ram", "high_performance", "npu"]
    text = "arrival_s,category,participants,rounds,deadline_s\n0,npu,1,1,60\n0,2,1,1,60\n"
    a, b = read_jobs_csv(write(tmp_path / "jobs.csv", text), category_names=names).jobs
    assert [requirements.label(a.requirement), requirements.label(b.requirement)] == ["npu", "gpu"]
    with pytest.raises(SpecError, match=r"line 2, column 'category': unknown category 'npu'"):
        read_jobs_csv(tmp_path / "jobs.csv")  # without names only the paper's


HEADER = "arrival_s,requirement,participants,rounds,deadline_s"


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "the file is empty"),
        ("# nothing\n", "has no header and no rows"),
        (HEADER + "\n", "has a header but no rows"),
        (
            "arrival_s,requirement,participants,deadline_s\n0,general,1,60\n",
            r"line 1 \(header\): missing column\(s\) \['rounds'\]",
        ),
        ("arrival_s,participants,rounds,deadline_s\n0,1,1,60\n", r"header: has no 'requirement' or 'category' column"),
        (HEADER + ",category\n0,general,1,1,60,1\n", r"header: has both a 'requirement' and a 'category' column"),
        (HEADER + ",priority\n0,general,1,1,60,3\n", r"header: unexpected column\(s\) \['priority'\]"),
        (HEADER + ",rounds\n0,general,1,1,60,2\n", r"line 1 \(header\): column 'rounds' appears twice"),
        (HEADER + "\n0,general,1,1,60\n0,general,1,1\n", r"line 3: has 4 fields but the header names 5 columns"),
        (HEADER + "\n0,general,1,1,60,9\n", r"line 2: has 6 fields but the header names 5 columns"),
        (
            HEADER + "\n0,general,1,1,60\nsoon,general,1,1,60\n",
            r"line 3, column 'arrival_s': expected a number, got 'soon'",
        ),
        (HEADER + "\n-5,general,1,1,60\n", r"line 2, column 'arrival_s': expected a number of seconds >= 0, got '-5'"),
        (HEADER + "\n0,general,-3,1,60\n", r"line 2, column 'participants': expected an integer >= 1, got '-3'"),
        (HEADER + "\n0,general,2.5,1,60\n", r"line 2, column 'participants': expected an integer, got '2\.5'"),
        (HEADER + "\n0,general,1,0,60\n", r"line 2, column 'rounds': expected an integer >= 1, got '0'"),
        (HEADER + "\n0,general,1,1,\n", r"line 2, column 'deadline_s': expected a number, got a missing value"),
        (HEADER + "\n0,general,1,1,0\n", r"line 2, column 'deadline_s': expected a number of seconds > 0"),
        (HEADER + "\n0,gpu_rich,1,1,60\n", r"line 2, column 'requirement': unknown category 'gpu_rich'"),
        (HEADER + "\n0,7,1,1,60\n", r"line 2, column 'requirement': category must be 1-4"),
        (HEADER + "\n0,,1,1,60\n", r"line 2, column 'requirement': expected a requirement, got a missing value"),
        (
            HEADER + '\n0,"{attr: ram_gb, op: =>, value: 8}",1,1,60\n',
            r"line 2, column 'requirement': 'op' must be one of",
        ),
        (
            HEADER + '\n0,"{attr: ram_gb",1,1,60\n',
            r"line 2, column 'requirement': cannot read .* as a YAML/JSON mapping",
        ),
        (
            HEADER + '\n0,"{all: [general, nope]}",1,1,60\n',
            r"line 2, column 'requirement': unknown category 'nope'.* \(at requirement\.all\[1\]\)",
        ),
        (
            "arrival_s,category,participants,rounds,deadline_s\n0,\"{attr: ram_gb, op: '>=', value: 8}\",1,1,60\n",
            r"line 2, column 'category': expected a category name or number, got the mapping",
        ),
        (HEADER + ",quorum\n0,general,1,1,60,1.5\n", r"line 2, column 'quorum': expected a number > 0 and <= 1"),
        (HEADER + ",comm_s\n0,general,1,1,60,fast\n", r"line 2, column 'comm_s': expected a number, got 'fast'"),
        (
            HEADER + ",comm_s,model_size_mb\n0,general,1,1,60,10,5\n",
            r"line 2, column 'comm_s': give model_size_mb or comm_s for a job, not both",
        ),
        (HEADER + ",mode\n0,general,1,1,60,batch\n", r"line 2, column 'mode': expected 'sync' or 'async', got 'batch'"),
        (
            HEADER + ",mode\n0,general,1,1,60,async\n",
            r"line 2, column 'buffer_size': must be an integer >= 1 for an async",
        ),
        (
            HEADER + ",workload_s,model_size_mb\n0,general,1,1,60,0,0\n",
            r"line 2, column 'workload_s': must be > 0 when model_size_mb is 0",
        ),
        (
            HEADER + ",name\n0,general,1,1,60,x\n# c\n0,general,1,1,60,x\n",
            r"line 4, column 'name': duplicate job name 'x' \(also on line 2\)",
        ),
    ],
)
def test_jobs_csv_errors(tmp_path, text, match):
    path = write(tmp_path / "jobs.csv", text)
    with pytest.raises(SpecError, match=match) as info:
        read_jobs_csv(path)
    assert str(info.value).startswith(str(path) + ": ")


def test_comm_s_gives_the_authors_task_time(tmp_path):
    """A job with the authors' workload 30 and comm 10 takes, on a device imported from their capacity file,
    30 * computation / 78 + 2 * 10 * 13736 / communication seconds: by formula and in the simulator."""
    capacity = {
        1: {"computation": 39.0, "communication": 6868.0},  # mean computation: 78, as the authors'
        2: {"computation": 117.0, "communication": 27472.0},
    }
    rows = [(1, 0.0, 5000.0), (2, 10.0, 5000.0)]
    files = write_venn_files(tmp_path, rows=rows, capacity=capacity, eligibility=[[1, 2, 3, 4]])
    imported = read_venn_client_table(*files)
    by_file_mean = imported.population
    exact = read_venn_client_table(*files, compute_reference=VENN_COMPUTE_REFERENCE).population
    np.testing.assert_allclose(exact.compute_factor, by_file_mean.compute_factor)  # the file's mean is 78
    jobs = read_jobs_csv(
        write(
            tmp_path / "jobs.csv",
            "arrival_s,category,participants,rounds,deadline_s,workload_s,comm_s,quorum\n0,1,1,1,3600,30,10,1\n",
        )
    )
    job = jobs.jobs[0]
    assert job.model_size_mb == pytest.approx(comm_s_to_model_size_mb(10.0)) == pytest.approx(17.17)
    authors = [30 * c["computation"] / 78 + 10 / (c["communication"] / 13736) * 2 for c in capacity.values()]
    ours = [
        job.workload_s * cf + 2 * job.model_size_mb * 8 / bw
        for cf, bw in zip(exact.compute_factor, exact.bandwidth_mbps)
    ]
    np.testing.assert_allclose(ours, authors, rtol=1e-12)
    assert authors == pytest.approx([15 + 40, 45 + 10])
    # In the simulator: device 0 checks in at 0 when the job arrives; no noise -> JCT = its task time.
    from venn_gym.baselines import make_policy
    from venn_gym.policy import run_policy
    from venn_gym.scenario import Scenario

    scenario = Scenario(
        name="t/comm-v0",
        seed=0,
        population=exact,
        trace=imported.trace,
        workload=jobs,
        task_noise_log_sd=0.0,
        speed_tiers=1,
    )
    (record,) = run_policy(scenario, make_policy("fifo")).jobs
    assert record.finished and record.jct_s == pytest.approx(authors[0])


# ------------------------------------------------------------------- raw device tables

AIBENCH = """device_id,model,cpu_score,ram_gb,fp16_memory_score,android_version,inference_ms
0,Phone A,20.2,16.0,2100.0,13.0,20.0
1,"Phone B, 5G",18.4,8.0,,13.0,60.0
2,Phone C,6.1,4.0,900.0,10.0,100.0
"""


def test_raw_device_table_with_a_column_mapping(tmp_path):
    path = write(tmp_path / "aibench.csv", AIBENCH)
    pop = read_devices_csv(
        path,
        columns={
            "compute_factor": {"from": "inference_ms", "relative_to": "median"},
            "bandwidth_mbps": {"value": 20},
            "ram_gb": "ram_gb",
            "os_version": "android_version",
            "memory_score": {"from": "fp16_memory_score", "default": 1000, "scale": 0.001},
        },
    )
    np.testing.assert_allclose(pop.compute_factor, [20 / 60, 1.0, 100 / 60])  # median device = 1
    np.testing.assert_allclose(pop.bandwidth_mbps, [20, 20, 20])
    assert sorted(pop.attributes) == ["memory_score", "os_version", "ram_gb"]
    np.testing.assert_allclose(pop.attributes["os_version"], [13, 13, 10])
    np.testing.assert_allclose(pop.attributes["memory_score"], [2.1, 1.0, 0.9])
    scaled = map_device_columns(
        path,
        {"compute_factor": {"from": "inference_ms", "scale": 1 / 63}, "bandwidth_mbps": 8, "categories": {"value": 1}},
    )
    np.testing.assert_allclose(scaled.compute_factor, [20 / 63, 60 / 63, 100 / 63])
    assert scaled.attributes["categories"].dtype.kind == "i"


@pytest.mark.parametrize(
    "columns, match",
    [
        ({"compute_factor": "inference_ms"}, r"columns: missing field\(s\) \['bandwidth_mbps'\]"),
        (
            {"compute_factor": "latency", "bandwidth_mbps": 5},
            r"line 1 \(header\): missing column\(s\) \['latency'\].*\(columns\.compute_factor reads column 'latency'\)",
        ),
        (
            {"compute_factor": "inference_ms", "bandwidth_mbps": 5, "mem": "fp16_memory_score"},
            r"line 3, column 'fp16_memory_score': expected a number, got a missing value",
        ),
        (
            {"compute_factor": "inference_ms", "bandwidth_mbps": 5, "name": "model"},
            r"line 2, column 'model': expected a number, got 'Phone A'",
        ),
        (
            {"compute_factor": {"from": "inference_ms", "scale": -1}, "bandwidth_mbps": 5},
            r"line 2, column 'inference_ms': must be > 0, got -20\.0 \(as compute_factor\)",
        ),
        (
            {"compute_factor": "inference_ms", "bandwidth_mbps": {"value": 0}},
            r"columns\.bandwidth_mbps\.value: must be > 0",
        ),
        (
            {"compute_factor": {"from": "inference_ms", "per": 2}, "bandwidth_mbps": 5},
            r"columns\.compute_factor\.per: unknown key 'per'",
        ),
        (
            {"compute_factor": {"from": "inference_ms", "value": 2}, "bandwidth_mbps": 5},
            r"columns\.compute_factor: give exactly one of 'from'",
        ),
        (
            {"compute_factor": {"from": "inference_ms", "relative_to": "max"}, "bandwidth_mbps": 5},
            r"columns\.compute_factor\.relative_to: expected 'median' or 'mean'",
        ),
        (
            {"compute_factor": {"from": "inference_ms", "scale": "x"}, "bandwidth_mbps": 5},
            r"columns\.compute_factor\.scale: expected a number",
        ),
        ({"compute_factor": ["inference_ms"], "bandwidth_mbps": 5}, r"columns\.compute_factor: expected a column name"),
        (
            {"compute_factor": "inference_ms", "bandwidth_mbps": 5, "device": "device_id"},
            r"columns\.device: 'device' is not a field",
        ),
        (
            {"compute_factor": "inference_ms", "bandwidth_mbps": 5, "categories": "cpu_score"},
            r"line 2, column 'cpu_score': expected an integer, got '20\.2'",
        ),
        ({}, "columns: expected a mapping"),
    ],
)
def test_raw_device_table_errors(tmp_path, columns, match):
    path = write(tmp_path / "aibench.csv", AIBENCH)
    with pytest.raises(SpecError, match=match) as info:
        read_devices_csv(path, columns=columns)
    assert str(info.value).startswith(str(path) + ": ")
