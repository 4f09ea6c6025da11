"""The story rules' chunks of records in date order (``feeds.selection.chunks``)."""

from __future__ import annotations

import bisect

from hypothesis import given
from hypothesis import strategies as st

from feeds.selection.chunks import chunks

# timestamps in whole seconds over some days, some of them dense (many records
# a second apart) and some sparse
STAMPS = st.lists(st.integers(min_value=0, max_value=30 * 86_400), max_size=400).map(
    lambda values: sorted(float(v) for v in values)
)


@given(
    STAMPS,
    st.sampled_from([0.0, 60.0, 86_400.0, 7 * 86_400.0, 400 * 86_400.0]),
    st.integers(min_value=1, max_value=50),
    st.sampled_from([0.0, 0.25, 1.0, 10.0**9]),
)
def test_chunks_cover_every_record_once_with_the_window_after_it(
    stamps: list[float], window: float, size: int, share: float
) -> None:
    found = list(chunks(stamps, window, size, share))
    # consecutive, in order, every position in exactly one chunk
    assert [low for low, _, _ in found] == [0, *(high for _, high, _ in found)][: len(found)]
    assert (found[-1][1] if found else 0) == len(stamps)
    for low, high, end in found:
        assert low < high <= end <= len(stamps)
        # the window after the chunk's last record, exactly
        assert end == bisect.bisect_right(stamps, stamps[high - 1] + window)
        # at least ``size`` records, but the last chunk
        assert high - low >= size or high == len(stamps)
        # grown until the window after it is at most ``share`` of it, and no further:
        # the chunk of half its size (the last doubling) had more after it
        assert end - high <= share * (high - low)
        if high - low > size:
            before = size
            while 2 * before < high - low:
                before *= 2
            cut = low + before
            assert bisect.bisect_right(stamps, stamps[cut - 1] + window) - cut > share * before


def test_dense_records_grow_the_chunks_sparse_ones_do_not() -> None:
    """Records a minute apart with a day's window: 1,440 in each window, so chunks
    of at least 2,048 grow to 8,192 (the window a sixth of it); an hour apart, 24 in
    each window, they stay at 2,048."""
    dense = [60.0 * i for i in range(20_000)]
    sizes = {high - low for low, high, _ in chunks(dense, 86_400, 2048, 0.25)}
    assert max(sizes) == 8192
    sparse = [3600.0 * i for i in range(20_000)]
    sizes = {high - low for low, high, _ in chunks(sparse, 86_400, 2048, 0.25)}
    assert max(sizes) == 2048
