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
        for (int seg = 0; seg < _segHigh; seg++)
        {
            int cell = _segCell[seg];
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
            if (n < 1 || n > _maxSyn)
            {
                return $"segment {seg} has {n} synapses";
            }

            synapses += n;
            Span<int> slots = _cellSlots.Get(cell);
            if (_segSlot[seg] >= slots.Length || slots[_segSlot[seg]] != seg)
            {
                return $"segment {seg} is not in its cell's slot table";
            }

            int baseIdx = seg * _maxSyn;
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

                int occurrences = 0;
                foreach (int target in _outSynapses.Get(src))
                {
                    if (target == seg)
                    {
                        occurrences++;
                    }
                }

                if (occurrences != 1)
                {
                    return $"forward index of cell {src} lists segment {seg} {occurrences} times";
                }
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
                    if (_segCell[seg] != cell)
                    {
                        return $"cell {cell} slot names segment {seg} of another cell";
                    }
                }
            }

            if (live != _cellSegCount[cell] || live > _p.MaxSegmentsPerCell)
            {
                return $"cell {cell} has {live} segments (count {_cellSegCount[cell]})";
            }

            if (_cellFreeSlots.Count(cell) != _cellSlots.Count(cell) - live)
            {
                return $"cell {cell} free-slot stack does not match its freed slots";
            }
        }

        if (segments != _segmentCount || synapses != _synapseCount || outEntries != synapses)
        {
            return $"counts: segments {segments}/{_segmentCount}, synapses {synapses}/{_synapseCount}, forward entries {outEntries}";
        }

        return null;
    }
}
