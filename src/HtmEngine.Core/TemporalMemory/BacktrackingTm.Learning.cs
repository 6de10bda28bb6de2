using System.Numerics;
using System.Runtime.Intrinsics;
using HtmEngine.Core.Randomness;

namespace HtmEngine.Core.TemporalMemory;

public sealed partial class BacktrackingTm
{
    private void UpdateLearningState(ReadOnlySpan<int> activeColumns)
    {
        // Swapped rather than copied, as in inference: LearnPhase1 or SetStartCells refill the active set and
        // LearnPhase2 (also in a backtrack's replays) the predicted one before either is read.
        (_lrnPredictedT1, _lrnPredictedT) = (_lrnPredictedT, _lrnPredictedT1);
        (_lrnActiveT1, _lrnActiveT) = (_lrnActiveT, _lrnActiveT1);
        if (_p.MaxLrnBacktrack > 0)
        {
            if (_lrnPatterns.Count > _p.MaxLrnBacktrack)
            {
                _lrnPatterns.PopFront(1);
            }

            _lrnPatterns.Push(activeColumns);
        }

        ProcessSegmentUpdates(activeColumns);
        if (_pamCounter > 0)
        {
            _pamCounter--;
        }

        _learnedSeqLength++;
        if (!_resetCalled && LearnPhase1(activeColumns, readOnly: false))
        {
            _pamCounter = _p.PamLength;
        }

        if (_resetCalled || _pamCounter == 0 || (_p.MaxSeqLength != 0 && _learnedSeqLength >= _p.MaxSeqLength))
        {
            int backSteps = 0;
            if (!_resetCalled)
            {
                backSteps = LearnBacktrack();
            }

            if (_resetCalled || backSteps == 0)
            {
                backSteps = 0;
                SetStartCells(_lrnActiveT, activeColumns);
                _lrnPatterns.Clear();
            }

            _pamCounter = _p.PamLength;
            _learnedSeqLength = backSteps;
            ClearUpdates();
        }

        LearnPhase2(readOnly: false);
    }

    private void SetStartCells(CellSet state, ReadOnlySpan<int> activeColumns)
    {
        state.Clear();
        for (int i = 0; i < activeColumns.Length; i++)
        {
            state.Add(activeColumns[i] * _cellsPerColumn);
        }
    }

    /// <summary>
    /// Learning phase 1: a predicted column (one cell in lrnPredicted[t−1]) activates that cell; an unpredicted
    /// one (unless read-only) reinforces the best matching segment against lrnActive[t−1] (≥ minThreshold) or
    /// grows a new segment on the cell chosen by getCellForNewSegment. In sequence iff fewer than half the
    /// columns (integer division, as in Cells4) were unpredicted.
    /// </summary>
    private bool LearnPhase1(ReadOnlySpan<int> activeColumns, bool readOnly)
    {
        _lrnActiveT.Clear();
        int cpc = _cellsPerColumn;
        int minThreshold = _p.MinThreshold;
        bool counted = false;
        int unpredicted = 0;
        for (int i = 0; i < activeColumns.Length; i++)
        {
            int col = activeColumns[i];
            int first = col * cpc;
            int predictedCell = FirstMember(_lrnPredictedT1, first, cpc);

            if (predictedCell >= 0)
            {
                _lrnActiveT.Add(predictedCell);
                continue;
            }

            unpredicted++;
            if (readOnly)
            {
                continue;
            }

            if (!counted)
            {
                // Counts stay valid for the whole loop: a column only changes its own cells' segments.
                _lrnActiveT1.SortMembers();
                ComputeActivity(_lrnActiveT1.Members, minThreshold);
                MarkCells();
                counted = true;
            }

            int bestCell = -1;
            int bestSeg = -1;
            int bestActivity = minThreshold;
            for (int cell = first; cell < first + cpc; cell++)
            {
                if (_cellMark[cell] == 0 && !HasBrokenSegment(cell))
                {
                    continue;
                }

                int activity = BestSegmentOfCellInSynapses(cell, _lrnActiveT1, out int seg);
                if (activity >= bestActivity)
                {
                    bestActivity = activity;
                    bestCell = cell;
                    bestSeg = seg;
                }
            }

            ReadOnlySpan<int> sortedPrev = _lrnActiveT1.Members;
            if (bestSeg >= 0)
            {
                _lrnActiveT.Add(bestCell);
                int n = BuildUpdate(bestSeg, _lrnActiveT1, sortedPrev, newSynapses: true, _scratchUpdate);
                _segTotal[bestSeg]++;
                AdaptSegment(bestSeg, _scratchUpdate.AsSpan(0, n));
            }
            else
            {
                int cell = GetCellForNewSegment(col);
                _lrnActiveT.Add(cell);
                int n = BuildUpdate(-1, _lrnActiveT1, sortedPrev, newSynapses: true, _scratchUpdate);
                if (n > 0)
                {
                    CreateSegment(cell, _scratchUpdate.AsSpan(0, n));
                }
            }
        }

        return unpredicted < activeColumns.Length / 2;
    }

    /// <summary>
    /// Learning phase 2: for every column, the best matching cell against lrnActive[t] with ≥ activationThreshold
    /// active synapses (all counted; later cell wins ties, then the lower slot) becomes lrnPredicted[t]; unless
    /// read-only, an update for that segment is queued (its active synapses plus new ones when it has fewer than
    /// newSynapseCount) and a total activation is counted.
    /// </summary>
    private void LearnPhase2(bool readOnly)
    {
        _lrnPredictedT.Clear();
        int threshold = _p.ActivationThreshold;
        int snapshot = -1;
        _lrnActiveT.SortMembers();
        ComputeActivity(_lrnActiveT.Members, threshold);
        CollectQualified();
        long[] keys = _qualKeys;
        int q = 0;
        while (q < _qualCount)
        {
            int col = ColumnOf((int)(keys[q] >> 32));
            int bestCell = -1;
            int bestSeg = -1;
            int bestActivity = threshold;
            while (q < _qualCount && ColumnOf((int)(keys[q] >> 32)) == col)
            {
                // The cell's best segment: the most activity, the lowest slot on ties (keys are in slot order).
                int cell = (int)(keys[q] >> 32);
                int cellBest = -1;
                int cellMax = 0;
                for (; q < _qualCount && (int)(keys[q] >> 32) == cell; q++)
                {
                    int seg = _qualSegs[q];
                    if (ActivityOf(seg) > cellMax)
                    {
                        cellMax = ActivityOf(seg);
                        cellBest = seg;
                    }
                }

                if (cellMax >= bestActivity)
                {
                    bestActivity = cellMax;
                    bestCell = cell;
                    bestSeg = cellBest;
                }
            }

            if (bestSeg < 0)
            {
                continue;
            }

            _lrnPredictedT.Add(bestCell);
            if (readOnly)
            {
                continue;
            }

            _segTotal[bestSeg]++;
            ReadOnlySpan<int> state = _lrnActiveT.Members;
            if (DeferQueuedUpdates && _segBroken[bestSeg] == 0 && state.Length <= 64)
            {
                // Deferred: more than half of these updates are dropped next step (their column stays off), so the
                // sources are worked out only for those applied. What must happen now are the generator's draws; for
                // them the counts suffice: the segment has bestActivity synapses on the state (a segment with all
                // its links counts them exactly), so there are state.Length − bestActivity candidates.
                if (snapshot < 0)
                {
                    snapshot = SnapshotState(state);
                }

                ulong chosen = bestActivity < _p.NewSynapseCount
                    ? ChoosePositions(_p.NewSynapseCount - bestActivity, state.Length - bestActivity)
                    : 0;
                QueueDeferred(bestSeg, col, snapshot, state.Length, bestActivity, chosen);
            }
            else
            {
                int n = BuildUpdate(bestSeg, _lrnActiveT, state, newSynapses: bestActivity < _p.NewSynapseCount, _scratchUpdate);
                QueueUpdate(bestSeg, _scratchUpdate.AsSpan(0, n));
            }
        }
    }

    /// <summary>
    /// ChooseCellsToLearnFrom's draws for <paramref name="wanted"/> of <paramref name="candidates"/> (at most 64)
    /// candidates, as positions among them: all when there are at most as many as wanted, one by getUInt32 if one is
    /// wanted, else a selection sample.
    /// </summary>
    private ulong ChoosePositions(int wanted, int candidates)
    {
        if (candidates <= wanted)
        {
            return candidates == 64 ? ulong.MaxValue : (1UL << candidates) - 1;
        }

        if (wanted == 1)
        {
            return 1UL << (int)NupicSampling.NextBelow(_random, (uint)candidates);
        }

        return NupicSampling.SampleMask(_random, candidates, wanted);
    }

    /// <summary>
    /// getCellForNewSegment (fixed-size mode): a uniformly drawn non-start cell with room for a segment; if all
    /// are full, the segment with the smallest duty cycle (&lt; 1, first found wins) on cells 1.. is freed.
    /// </summary>
    private int GetCellForNewSegment(int col)
    {
        int cpc = _cellsPerColumn;
        int first = col * cpc;
        Span<int> candidates = stackalloc int[cpc];
        int n = 0;
        for (int i = 1; i < cpc; i++)
        {
            if (LiveSegmentsOn(first + i) < _p.MaxSegmentsPerCell)
            {
                candidates[n++] = first + i;
            }
        }

        if (n > 0)
        {
            return candidates[(int)NupicSampling.NextBelow(_random, (uint)n)];
        }

        int victim = -1;
        int firstSeen = -1;
        float minDc = 1.0f;
        for (int i = 1; i < cpc; i++)
        {
            Span<int> slots = _cellSlots.Get(first + i);
            for (int s = 0; s < slots.Length; s++)
            {
                int seg = slots[s];
                if (seg < 0)
                {
                    continue;
                }

                if (firstSeen < 0)
                {
                    firstSeen = seg;
                }

                float dc = DutyCycle(seg, active: false, readOnly: false);
                if (dc < minDc)
                {
                    minDc = dc;
                    victim = seg;
                }
            }
        }

        // Cells4 has no answer when every duty cycle is ≥ 1 (impossible past the first steps); free the first segment then.
        if (victim < 0)
        {
            victim = firstSeen;
        }

        int cellOfVictim = _seg[victim].Cell;
        ReleaseSegment(victim);
        return cellOfVictim;
    }

    /// <summary>
    /// Learning backtrack: find the oldest stored start (the current input excluded) whose read-only replay stays
    /// in sequence up to now, replay it again learning, and drop the patterns before and at it. Returns how many
    /// steps back the start was, or 0 (and clears the history) when none works.
    /// </summary>
    private int LearnBacktrack()
    {
        int numPrev = _lrnPatterns.Count - 1;
        if (numPrev <= 0)
        {
            return 0;
        }

        int found = -1;
        for (int start = 0; start < numPrev; start++)
        {
            if (LearnBacktrackFrom(start, readOnly: true))
            {
                found = start;
                break;
            }
        }

        if (found < 0)
        {
            _lrnPatterns.Clear();
            return 0;
        }

        LearnBacktrackFrom(found, readOnly: false);
        _lrnPatterns.PopFront(found + 1);
        return numPrev - found;
    }

    private bool LearnBacktrackFrom(int start, bool readOnly)
    {
        int n = _lrnPatterns.Count;
        int current = n - 1;
        if (!readOnly)
        {
            ClearUpdates();
        }

        bool inSequence = false;
        for (int offset = start; offset < n; offset++)
        {
            ReadOnlySpan<int> columns = _lrnPatterns[offset];
            if (!readOnly)
            {
                ProcessSegmentUpdates(columns);
            }

            if (offset == start)
            {
                SetStartCells(_lrnActiveT, columns);
                inSequence = true;
            }
            else
            {
                _lrnActiveT1.CopyFrom(_lrnActiveT);
                _lrnPredictedT1.CopyFrom(_lrnPredictedT);
                inSequence = LearnPhase1(columns, readOnly);
            }

            if (!inSequence || offset == current)
            {
                break;
            }

            LearnPhase2(readOnly);
        }

        return inSequence;
    }

    /// <summary>The lowest cell of [<paramref name="first"/>, first + <paramref name="count"/>) in <paramref name="set"/>, or −1.</summary>
    private static int FirstMember(CellSet set, int first, int count)
    {
        byte[] flags = set.Flags;
        if (count == Vector256<byte>.Count && Vector256.IsHardwareAccelerated)
        {
            // 32 cells per column: one compare instead of up to 32 unpredictable flag tests.
            uint mask = ~Vector256.Equals(Vector256.LoadUnsafe(ref flags[first]), Vector256<byte>.Zero).ExtractMostSignificantBits();
            return mask == 0 ? -1 : first + BitOperations.TrailingZeroCount(mask);
        }

        for (int cell = first; cell < first + count; cell++)
        {
            if (flags[cell] != 0)
            {
                return cell;
            }
        }

        return -1;
    }

    private bool HasBrokenSegment(int cell)
    {
        Span<int> slots = _cellSlots.Get(cell);
        for (int s = 0; s < slots.Length; s++)
        {
            if (slots[s] >= 0 && _segBroken[slots[s]] > 0)
            {
                return true;
            }
        }

        return false;
    }

    private int BestSegmentOfCellInSynapses(int cell, CellSet state, out int bestSeg)
    {
        Span<int> slots = _cellSlots.Get(cell);
        int max = 0;
        bestSeg = -1;
        for (int s = 0; s < slots.Length; s++)
        {
            int seg = slots[s];
            if (seg < 0)
            {
                continue;
            }

            int activity = ActivityOf(seg);
            if (_segBroken[seg] > 0)
            {
                activity = 0;
                int start = seg * _maxSyn;
                for (int k = start; k < start + _segSynCount[seg]; k++)
                {
                    if (state.Contains(_synSource[k]))
                    {
                        activity++;
                    }
                }
            }

            if (activity > max)
            {
                max = activity;
                bestSeg = seg;
            }
        }

        return max;
    }
}
