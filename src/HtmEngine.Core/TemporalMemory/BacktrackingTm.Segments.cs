namespace HtmEngine.Core.TemporalMemory;

public sealed partial class BacktrackingTm
{
    /// <summary>Creates a segment on <paramref name="cell"/> with synapses to the sorted <paramref name="sources"/> at initialPerm.</summary>
    private int CreateSegment(int cell, ReadOnlySpan<int> sources)
    {
        if (sources.Length > _maxSyn)
        {
            sources = sources[.._maxSyn];
        }

        int seg;
        if (_freeSegCount > 0)
        {
            seg = _freeSegIds[--_freeSegCount];
        }
        else
        {
            if (_segHigh == _segCell.Length)
            {
                GrowSegments();
            }

            seg = _segHigh++;
        }

        // Cells4 reuses the most recently freed slot of the cell before appending a new one.
        int slot;
        int freeSlots = _cellFreeSlots.Count(cell);
        if (freeSlots > 0)
        {
            slot = _cellFreeSlots.Get(cell)[freeSlots - 1];
            _cellFreeSlots.RemoveLast(cell);
            _cellSlots.Get(cell)[slot] = seg;
        }
        else
        {
            slot = _cellSlots.Count(cell);
            _cellSlots.Add(cell, seg);
        }

        _cellSegCount[cell]++;
        _segmentCount++;
        _segCell[seg] = cell;
        _segSlot[seg] = slot;
        _segPositive[seg] = 1;
        _segTotal[seg] = 1;
        _segLastActive[seg] = _lrnIteration;
        _segLastDcIteration[seg] = _lrnIteration;
        _segLastDc[seg] = _lrnIteration > 0 ? 1.0f / _lrnIteration : 1.0f;
        int baseIdx = seg * _maxSyn;
        float initial = _p.InitialPermanence;
        for (int k = 0; k < sources.Length; k++)
        {
            _synSource[baseIdx + k] = sources[k];
            _synPerm[baseIdx + k] = initial;
            _outSynapses.Add(sources[k], seg);
        }

        _segSynCount[seg] = sources.Length;
        _segConnected[seg] = initial >= _p.ConnectedPermanence ? sources.Length : 0;
        _synapseCount += sources.Length;
        return seg;
    }

    /// <summary>Frees a segment: its synapses leave the forward index, its slot goes onto the cell's free stack.</summary>
    private void ReleaseSegment(int seg)
    {
        int cell = _segCell[seg];
        int baseIdx = seg * _maxSyn;
        int n = _segSynCount[seg];
        for (int k = 0; k < n; k++)
        {
            _outSynapses.RemoveSwap(_synSource[baseIdx + k], seg);
        }

        _synapseCount -= n;
        _segSynCount[seg] = 0;
        _segConnected[seg] = 0;
        _cellSlots.Get(cell)[_segSlot[seg]] = -1;
        _cellFreeSlots.Add(cell, _segSlot[seg]);
        _cellSegCount[cell]--;
        _segmentCount--;
        _segCell[seg] = -1;
        _segGeneration[seg]++;
        _activity[seg] = 0;
        _freeSegIds[_freeSegCount++] = seg;
    }

    private void GrowSegments()
    {
        int n = _segCell.Length * 2;
        Array.Resize(ref _segCell, n);
        Array.Resize(ref _segSlot, n);
        Array.Resize(ref _segSynCount, n);
        Array.Resize(ref _segPositive, n);
        Array.Resize(ref _segTotal, n);
        Array.Resize(ref _segLastActive, n);
        Array.Resize(ref _segLastDcIteration, n);
        Array.Resize(ref _segLastDc, n);
        Array.Resize(ref _segGeneration, n);
        Array.Resize(ref _segConnected, n);
        Array.Resize(ref _activity, n);
        Array.Resize(ref _touchedSegs, n + 1);
        Array.Resize(ref _qualKeys, n);
        Array.Resize(ref _freeSegIds, n);
        Array.Resize(ref _synSource, n * _maxSyn);
        Array.Resize(ref _synPerm, n * _maxSyn);
    }

    /// <summary>
    /// Cells4's adaptSegment with positive reinforcement: synapses whose source is in <paramref name="set"/> gain
    /// permanenceInc (capped at 1), the others lose permanenceDec and go at ≤ 0; sources of the set not yet on the
    /// segment are added at initialPerm after freeing the weakest synapses if the segment would exceed its cap.
    /// <paramref name="set"/> = the existing active sources (sorted) followed by the new sources (sorted).
    /// </summary>
    private void AdaptSegment(int seg, ReadOnlySpan<int> set)
    {
        _segLastActive[seg] = _lrnIteration;
        _segPositive[seg]++;
        DutyCycle(seg, active: true, readOnly: false);

        byte[] flag = _setFlag;
        for (int i = 0; i < set.Length; i++)
        {
            flag[set[i]] = 1;
        }

        int baseIdx = seg * _maxSyn;
        int n = _segSynCount[seg];
        float inc = _p.PermanenceIncrement;
        float dec = _p.PermanenceDecrement;
        int[] src = _scratchSynSrc;
        float[] perm = _scratchSynPerm;
        byte[] kind = _scratchSynKind; // 0 = decremented, 1 = incremented
        int kept = 0;
        for (int k = 0; k < n; k++)
        {
            int s = _synSource[baseIdx + k];
            float p = _synPerm[baseIdx + k];
            if (flag[s] != 0)
            {
                flag[s] = 2;
                p += inc;
                if (p > 1.0f)
                {
                    p = 1.0f;
                }

                src[kept] = s;
                perm[kept] = p;
                kind[kept] = 1;
                kept++;
            }
            else
            {
                p -= dec;
                if (p <= 0f)
                {
                    _outSynapses.RemoveSwap(s, seg);
                    _synapseCount--;
                    continue;
                }

                src[kept] = s;
                perm[kept] = p;
                kind[kept] = 0;
                kept++;
            }
        }

        // New sources: set members not found on the segment (flag still 1), in set order (sorted).
        int[] added = _scratchChosen;
        int newCount = 0;
        for (int i = 0; i < set.Length; i++)
        {
            int s = set[i];
            if (flag[s] == 1)
            {
                added[newCount++] = s;
            }

            flag[s] = 0;
        }

        if (newCount > _maxSyn)
        {
            newCount = _maxSyn;
        }

        int excess = kept + newCount - _maxSyn;
        if (excess > 0)
        {
            excess = FreeWeakest(src, perm, kind, ref kept, excess, 0, seg);
            if (excess > 0)
            {
                FreeWeakest(src, perm, kind, ref kept, excess, 1, seg);
            }
        }

        // Merge the kept (sorted) and the new (sorted) synapses back into the segment's block.
        int a = 0;
        int b = 0;
        int w = baseIdx;
        float initial = _p.InitialPermanence;
        float connected = _p.ConnectedPermanence;
        int connectedCount = 0;
        while (a < kept || b < newCount)
        {
            if (b >= newCount || (a < kept && src[a] < added[b]))
            {
                _synSource[w] = src[a];
                _synPerm[w] = perm[a];
                a++;
            }
            else
            {
                _synSource[w] = added[b];
                _synPerm[w] = initial;
                _outSynapses.Add(added[b], seg);
                b++;
            }

            if (_synPerm[w] >= connected)
            {
                connectedCount++;
            }

            w++;
        }

        _segConnected[seg] = connectedCount;
        _synapseCount += newCount;
        _segSynCount[seg] = kept + newCount;
        if (kept + newCount == 0)
        {
            ReleaseSegment(seg);
        }
    }

    /// <summary>Frees up to <paramref name="count"/> synapses of the given kind, lowest permanence first (earlier wins ties).</summary>
    private int FreeWeakest(int[] src, float[] perm, byte[] kind, ref int kept, int count, byte which, int seg)
    {
        while (count > 0)
        {
            int victim = -1;
            for (int k = 0; k < kept; k++)
            {
                if (kind[k] == which && (victim < 0 || perm[k] < perm[victim]))
                {
                    victim = k;
                }
            }

            if (victim < 0)
            {
                break;
            }

            _outSynapses.RemoveSwap(src[victim], seg);
            _synapseCount--;
            for (int k = victim + 1; k < kept; k++)
            {
                src[k - 1] = src[k];
                perm[k - 1] = perm[k];
                kind[k - 1] = kind[k];
            }

            kept--;
            count--;
        }

        return count;
    }

    /// <summary>
    /// Fills <paramref name="destination"/> with the sources of <paramref name="seg"/>'s synapses that are on in
    /// <paramref name="state"/> (sorted), followed, if <paramref name="newSynapses"/>, by up to
    /// newSynapseCount − #active cells sampled from <paramref name="sortedState"/> (chooseCellsToLearnFrom).
    /// Returns the number written. <paramref name="seg"/> = −1 for a segment yet to be created.
    /// </summary>
    private int BuildUpdate(int seg, CellSet state, ReadOnlySpan<int> sortedState, bool newSynapses, int[] destination)
    {
        int n = 0;
        if (seg >= 0)
        {
            int baseIdx = seg * _maxSyn;
            int count = _segSynCount[seg];
            for (int k = 0; k < count; k++)
            {
                int s = _synSource[baseIdx + k];
                if (state.Contains(s))
                {
                    destination[n++] = s;
                }
            }
        }

        if (newSynapses)
        {
            n += ChooseCellsToLearnFrom(seg, _p.NewSynapseCount - n, sortedState, destination.AsSpan(n));
        }

        return n;
    }

    /// <summary>
    /// Cells4's chooseCellsToLearnFrom: candidates are the on cells (sorted) minus the segment's existing sources;
    /// all of them if there are at most <paramref name="wanted"/>, one by getUInt32 if one is wanted, else a
    /// selection sample in cell order.
    /// </summary>
    private int ChooseCellsToLearnFrom(int seg, int wanted, ReadOnlySpan<int> sortedState, Span<int> destination)
    {
        if (wanted <= 0 || sortedState.Length == 0)
        {
            return 0;
        }

        int[] cand = _scratchCandidates;
        int nc = 0;
        if (seg < 0)
        {
            sortedState.CopyTo(cand);
            nc = sortedState.Length;
        }
        else
        {
            int baseIdx = seg * _maxSyn;
            int count = _segSynCount[seg];
            int k = 0;
            for (int i = 0; i < sortedState.Length; i++)
            {
                int c = sortedState[i];
                while (k < count && _synSource[baseIdx + k] < c)
                {
                    k++;
                }

                if (k < count && _synSource[baseIdx + k] == c)
                {
                    continue;
                }

                cand[nc++] = c;
            }
        }

        if (nc <= wanted)
        {
            cand.AsSpan(0, nc).CopyTo(destination);
            return nc;
        }

        if (wanted == 1)
        {
            destination[0] = cand[(int)_random.GetUInt32((uint)nc)];
            return 1;
        }

        _random.Sample(cand.AsSpan(0, nc), destination[..wanted]);
        return wanted;
    }

    // ---------------------------------------------------------------- queued segment updates

    private void QueueUpdate(int seg, ReadOnlySpan<int> sources)
    {
        if (_updCount == _updSeg.Length)
        {
            int n = _updSeg.Length * 2;
            Array.Resize(ref _updSeg, n);
            Array.Resize(ref _updGeneration, n);
            Array.Resize(ref _updTime, n);
            Array.Resize(ref _updOffset, n);
            Array.Resize(ref _updLength, n);
        }

        if (_updUsed + sources.Length > _updSources.Length)
        {
            Array.Resize(ref _updSources, Math.Max(_updSources.Length * 2, _updUsed + sources.Length));
        }

        int i = _updCount++;
        _updSeg[i] = seg;
        _updGeneration[i] = _segGeneration[seg];
        _updTime[i] = _lrnIteration;
        _updOffset[i] = _updUsed;
        _updLength[i] = sources.Length;
        sources.CopyTo(_updSources.AsSpan(_updUsed));
        _updUsed += sources.Length;
    }

    private void ClearUpdates()
    {
        _updCount = 0;
        _updUsed = 0;
    }

    /// <summary>
    /// Applies, in queue order, the queued updates whose column is active now and which are not older than
    /// segUpdateValidDuration (1 without pooling); drops all the others (no pooling), so the queue ends empty.
    /// </summary>
    private void ProcessSegmentUpdates(ReadOnlySpan<int> activeColumns)
    {
        if (_updCount == 0)
        {
            return;
        }

        for (int i = 0; i < activeColumns.Length; i++)
        {
            _colActive[activeColumns[i]] = 1;
        }

        for (int u = 0; u < _updCount; u++)
        {
            int seg = _updSeg[u];
            if (_lrnIteration - _updTime[u] > 1 || _segGeneration[seg] != _updGeneration[u] || _segCell[seg] < 0)
            {
                continue;
            }

            if (_colActive[_segCell[seg] / _cellsPerColumn] != 0)
            {
                AdaptSegment(seg, _updSources.AsSpan(_updOffset[u], _updLength[u]));
            }
        }

        for (int i = 0; i < activeColumns.Length; i++)
        {
            _colActive[activeColumns[i]] = 0;
        }

        ClearUpdates();
    }
}
