namespace HtmEngine.Core.TemporalMemory;

public sealed partial class BacktrackingTm
{
    /// <summary>
    /// Checks the structural invariants (for tests; walks everything, allocates): limits per segment and cell,
    /// permanences in (0, 1], sorted and duplicate-free synapse lists, slot tables and forward index consistent
    /// with the segments, and the running counts. Returns null when all hold, else the first violation.
    /// </summary>
    internal string? FindInvariantViolation()
    {
        int segments = 0;
        int synapses = 0;
        int brokenTotal = 0;
        for (int seg = 0; seg < _segHigh; seg++)
        {
            int cell = _seg[seg].Cell;
            if (cell < 0)
            {
                if (_segSynCount[seg] != 0)
                {
                    return $"free segment {seg} has synapses";
                }

                continue;
            }

            segments++;
            int n = _segSynCount[seg];
            if (n < 1 || n > _synLimit)
            {
                return $"segment {seg} has {n} synapses";
            }

            synapses += n;
            Span<int> slots = _cellSlots.Get(cell);
            if (_seg[seg].Slot >= slots.Length || slots[_seg[seg].Slot] != seg)
            {
                return $"segment {seg} is not in its cell's slot table";
            }

            int baseIdx = seg * _maxSyn;
            int connectedCount = 0;
            int missing = 0;
            for (int k = 0; k < n; k++)
            {
                int src = _synSource[baseIdx + k];
                float perm = _synPerm[baseIdx + k];
                if ((uint)src >= (uint)_cellCount)
                {
                    return $"segment {seg} has source {src} out of range";
                }

                if (k > 0 && src <= _synSource[baseIdx + k - 1])
                {
                    return $"segment {seg} synapses are not sorted and distinct";
                }

                if (!(perm > 0f && perm <= 1f))
                {
                    return $"segment {seg} has permanence {perm}";
                }

                if (perm >= _p.ConnectedPermanence)
                {
                    connectedCount++;
                }

                int occurrences = 0;
                foreach (int link in _outSynapses.Get(src))
                {
                    if (SegmentOfLink(link) == seg)
                    {
                        occurrences++;
                        if (link != Link(seg, perm >= _p.ConnectedPermanence))
                        {
                            return $"forward link of cell {src} to segment {seg} is tagged {IsConnectedLink(link)} for permanence {perm}";
                        }
                    }
                }

                if (occurrences > 1)
                {
                    return $"forward index of cell {src} lists segment {seg} {occurrences} times";
                }

                missing += 1 - occurrences;
            }

            if (missing != _segBroken[seg])
            {
                return $"segment {seg} misses {missing} forward links, recorded {_segBroken[seg]}";
            }

            brokenTotal += missing;

            if (connectedCount != _segConnected[seg])
            {
                return $"segment {seg} connected count {_segConnected[seg]} should be {connectedCount}";
            }
        }

        long outEntries = 0;
        for (int cell = 0; cell < _cellCount; cell++)
        {
            outEntries += _outSynapses.Count(cell);
            int live = 0;
            foreach (int seg in _cellSlots.Get(cell))
            {
                if (seg >= 0)
                {
                    live++;
                    if (_seg[seg].Cell != cell)
                    {
                        return $"cell {cell} slot names segment {seg} of another cell";
                    }
                }
            }

            if (live != LiveSegmentsOn(cell) || live > _p.MaxSegmentsPerCell)
            {
                return $"cell {cell} has {live} segments (count {LiveSegmentsOn(cell)})";
            }

            if ((_cellFreeSlots is null ? 0 : _cellFreeSlots.Count(cell)) != _cellSlots.Count(cell) - live)
            {
                return $"cell {cell} free-slot stack does not match its freed slots";
            }
        }

        if (segments != _segmentCount || synapses != _synapseCount || outEntries != synapses - brokenTotal)
        {
            return $"counts: segments {segments}/{_segmentCount}, synapses {synapses}/{_synapseCount}, forward entries {outEntries}";
        }

        // A deferred update counted its segment's synapses on its snapshot when queued; they must still be there.
        for (int u = 0; u < _updCount; u++)
        {
            int seg = _updSeg[u];
            if (_updActive[u] < 0 || _segGeneration[seg] != _updGeneration[u] || _seg[seg].Cell < 0)
            {
                continue;
            }

            var snapshot = new HashSet<int>(_updSources.AsSpan(_updOffset[u], _updLength[u]).ToArray());
            int onSnapshot = 0;
            for (int k = seg * _maxSyn; k < (seg * _maxSyn) + _segSynCount[seg]; k++)
            {
                onSnapshot += snapshot.Contains(_synSource[k]) ? 1 : 0;
            }

            int candidates = snapshot.Count - onSnapshot;
            if (onSnapshot != _updActive[u] || (candidates < 64 && (_updChosen[u] >> candidates) != 0))
            {
                return $"queued update {u} of segment {seg}: {onSnapshot} synapses on its snapshot (counted {_updActive[u]}), chosen positions {_updChosen[u]:X} of {candidates} candidates";
            }
        }

        return null;
    }

    /// <summary>
    /// Whether learning phase 2 queues its updates deferred (the default) or with their sources worked out at once,
    /// as Cells4 does; both must give the same model (tests compare them).
    /// </summary>
    internal bool DeferQueuedUpdates { get; set; } = true;

    /// <summary>Updates queued by the last learning phase 2, waiting for the next step.</summary>
    internal int QueuedUpdateCount => _updCount;

    /// <summary>Steps left before learning starts over for being out of sequence (pamCounter).</summary>
    internal int PamCounter => _pamCounter;

    /// <summary>Length of the chunk learned since the last start-over (learnedSeqLength).</summary>
    internal int LearnedSeqLength => _learnedSeqLength;

    /// <summary>Learning-path active cells (at most one per column), in no particular order.</summary>
    internal ReadOnlySpan<int> LearningActiveCells => _lrnActiveT.Members;

    /// <summary>Most segments on any one cell.</summary>
    internal int MaxSegmentsOnAnyCell()
    {
        int max = 0;
        for (int cell = 0; cell < _cellCount; cell++)
        {
            max = Math.Max(max, LiveSegmentsOn(cell));
        }

        return max;
    }

    /// <summary>Most synapses on any one segment.</summary>
    internal int MaxSynapsesOnAnySegment()
    {
        int max = 0;
        for (int seg = 0; seg < _segHigh; seg++)
        {
            max = Math.Max(max, _segSynCount[seg]);
        }

        return max;
    }

    /// <summary>
    /// Frees the live segment in <paramref name="cell"/>'s first occupied slot, as learning frees one (tests: in NuPIC's
    /// runs a freed slot is nearly always taken again at once, so a freed slot left waiting is hard to reach by a stream).
    /// </summary>
    internal void ReleaseFirstSegmentOn(int cell)
    {
        foreach (int seg in _cellSlots.Get(cell))
        {
            if (seg >= 0)
            {
                ReleaseSegment(seg);
                return;
            }
        }

        throw new ArgumentException($"cell {cell} has no segment", nameof(cell));
    }

    /// <summary>Synapse slots per segment block (the cap rounded up to whole vectors until a segment outgrows it).</summary>
    internal int SynapseStride => _maxSyn;

    /// <summary>Moves the synapse blocks to the widest stride now, as a TM does when a segment first exceeds the cap.</summary>
    internal void WidenSynapseStrideForTests() => WidenSynapseStride();

    /// <summary>Segment ids the storage holds room for (tests of the growth policy).</summary>
    internal int SegmentCapacity => _seg.Length;

    /// <summary>
    /// Grows the segment and synapse storage to hold <paramref name="segments"/> segments, and the update queue
    /// to its worst case (an update for every column), so no later step allocates (optional: storage also grows
    /// on demand, by doubling).
    /// </summary>
    internal void ReserveSegments(int segments)
    {
        while (_seg.Length < segments)
        {
            GrowSegments();
        }

        _outSynapses.Reserve(segments * _synRoom * 2);
        foreach (CellSet set in (ReadOnlySpan<CellSet>)[_infActiveT, _infActiveT1, _infPredictedT, _infPredictedT1, _backupActive, _backupPredictedT1, _lrnActiveT, _lrnActiveT1, _lrnPredictedT, _lrnPredictedT1])
        {
            set.Reserve(_cellCount);
        }

        _cellSlots.Reserve(segments * 2);
        FreeSlots().Reserve(segments);
        if (_markedCells.Length < _cellCount)
        {
            Array.Resize(ref _markedCells, _cellCount); // keeps the marked cells the next MarkCells clears
        }

        EnsureConfCellCapacity(_cellCount);
        if (_scratchCandidates.Length < _cellCount)
        {
            _scratchCandidates = new int[_cellCount];
        }

        _infPatterns.ReserveAll();
        _lrnPatterns.ReserveAll();
        int worstUpdates = _columns * (_synRoom + _p.NewSynapseCount);
        if (_updSources.Length < worstUpdates)
        {
            Array.Resize(ref _updSources, worstUpdates);
        }

        while (_updSeg.Length < _columns)
        {
            int n = _updSeg.Length * 2;
            Array.Resize(ref _updSeg, n);
            Array.Resize(ref _updGeneration, n);
            Array.Resize(ref _updTime, n);
            Array.Resize(ref _updOffset, n);
            Array.Resize(ref _updLength, n);
            Array.Resize(ref _updActive, n);
            Array.Resize(ref _updChosen, n);
            Array.Resize(ref _updColumn, n);
            Array.Resize(ref _updApply, n);
        }
    }
}
