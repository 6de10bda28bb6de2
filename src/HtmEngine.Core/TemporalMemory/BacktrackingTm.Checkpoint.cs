using HtmEngine.Core.Checkpoints;
using HtmEngine.Core.Randomness;

namespace HtmEngine.Core.TemporalMemory;

public sealed partial class BacktrackingTm
{
    private const uint CheckpointTag = 0x314D5442; // "BTM1"

    /// <inheritdoc />
    /// <remarks>
    /// Writes parameters, scalars, the generator, every live segment (counters and synapses), the per-cell slot
    /// tables and forward index exactly as held (so a restored TM makes the same choices), the current states,
    /// confidences, replay histories and queued updates. Cell lists are written sorted, so two TMs in the same
    /// logical state write the same bytes.
    /// </remarks>
    public void Save(CheckpointWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteUInt32(CheckpointTag);
        WriteParameters(writer, _p);
        writer.WriteInt32(_lrnIteration);
        writer.WriteDouble(_avgInputDensity);
        writer.WriteBoolean(_haveAvgInputDensity);
        writer.WriteInt32(_pamCounter);
        writer.WriteInt32(_learnedSeqLength);
        writer.WriteBoolean(_resetCalled);
        _random.Save(writer);

        writer.WriteInt32(_segHigh);
        writer.WriteInt32(_segmentCount);
        writer.WriteInt32(_synapseCount);
        WriteSegmentField(writer, SegmentField.Cell);
        WriteSegmentField(writer, SegmentField.Slot);
        writer.WriteSpan(_segSynCount.AsSpan(0, _segHigh));
        writer.WriteSpan(_segPositive.AsSpan(0, _segHigh));
        writer.WriteSpan(_segTotal.AsSpan(0, _segHigh));
        writer.WriteSpan(_segLastActive.AsSpan(0, _segHigh));
        WriteSegmentField(writer, SegmentField.LastDcIteration);
        WriteSegmentField(writer, SegmentField.LastDc);
        writer.WriteSpan(_segGeneration.AsSpan(0, _segHigh));
        writer.WriteSpan(_freeSegIds.AsSpan(0, _freeSegCount));
        for (int seg = 0; seg < _segHigh; seg++)
        {
            int n = _segSynCount[seg];
            writer.WriteSpan(_synSource.AsSpan(seg * _maxSyn, n));
            writer.WriteSpan(_synPerm.AsSpan(seg * _maxSyn, n));
        }

        _cellSlots.Save(writer);
        if (_cellFreeSlots is null)
        {
            IntListPool.SaveEmpty(writer, _cellCount); // the bytes of a pool that never held anything
        }
        else
        {
            _cellFreeSlots.Save(writer);
        }

        // The forward links carry a connected tag in memory; the file holds bare segment ids (format unchanged).
        _outSynapses.Save(writer, valueShift: LinkShift);

        MaterializeConfidences();
        WriteSorted(writer, _infActiveT);
        WriteSorted(writer, _infPredictedT);
        WriteSorted(writer, _lrnActiveT);
        WriteSorted(writer, _lrnPredictedT);
        writer.WriteSpan(_confCells.AsSpan(0, _confCellCount));
        for (int i = 0; i < _confCellCount; i++)
        {
            writer.WriteSingle(_confCellValues[i]);
        }

        writer.WriteSpan(_confCols.AsSpan(0, _confColCount));
        for (int i = 0; i < _confColCount; i++)
        {
            writer.WriteSingle(_colConfidence[_confCols[i]]);
        }

        WritePatterns(writer, _infPatterns);
        WritePatterns(writer, _lrnPatterns);

        writer.WriteInt32(_updCount);
        for (int u = 0; u < _updCount; u++)
        {
            writer.WriteInt32(_updSeg[u]);
            writer.WriteInt32(_updGeneration[u]);
            writer.WriteInt32(_updTime[u]);
            if (_updActive[u] < 0)
            {
                writer.WriteSpan(_updSources.AsSpan(_updOffset[u], _updLength[u]));
                continue;
            }

            // A deferred update is written with the sources it stands for, so the format does not know about them.
            int active = ResolveDeferredUpdate(u, out int added);
            _scratchChosen.AsSpan(0, added).CopyTo(_scratchUpdate.AsSpan(active));
            writer.WriteSpan(_scratchUpdate.AsSpan(0, active + added));
        }

        ClearSnapshotFlags();
    }

    /// <summary>Reads a TM written by <see cref="Save"/>.</summary>
    /// <exception cref="CheckpointFormatException">The payload is not a consistent backtracking TM.</exception>
    public static BacktrackingTm Load(ref CheckpointReader reader)
    {
        if (reader.ReadUInt32() != CheckpointTag)
        {
            throw new CheckpointFormatException("Not a backtracking TM section.");
        }

        BacktrackingTmParameters p = ReadParameters(ref reader);
        try
        {
            p.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new CheckpointFormatException($"Backtracking TM parameters are invalid: {e.ParamName}.");
        }

        int lrnIteration = reader.ReadInt32();
        double avg = reader.ReadDouble();
        bool haveAvg = reader.ReadBoolean();
        int pam = reader.ReadInt32();
        int learnedSeqLength = reader.ReadInt32();
        bool resetCalled = reader.ReadBoolean();
        NupicRandom random = NupicRandom.Load(ref reader);

        int segHigh = reader.ReadInt32();
        if (segHigh < 0 || segHigh > 1 << 26)
        {
            throw new CheckpointFormatException("Backtracking TM segment count is impossible.");
        }

        var tm = new BacktrackingTm(p, random, initialSegments: Math.Max(segHigh, InitialSegments))
        {
            _lrnIteration = lrnIteration,
            _avgInputDensity = avg,
            _haveAvgInputDensity = haveAvg,
            _pamCounter = pam,
            _learnedSeqLength = learnedSeqLength,
            _resetCalled = resetCalled,
            _segHigh = segHigh,
        };
        tm._segmentCount = reader.ReadInt32();
        tm._synapseCount = reader.ReadInt32();
        tm.ReadSegmentField(ref reader, SegmentField.Cell, segHigh);
        tm.ReadSegmentField(ref reader, SegmentField.Slot, segHigh);
        reader.ReadSpan(tm._segSynCount.AsSpan(0, segHigh));
        reader.ReadSpan(tm._segPositive.AsSpan(0, segHigh));
        reader.ReadSpan(tm._segTotal.AsSpan(0, segHigh));
        reader.ReadSpan(tm._segLastActive.AsSpan(0, segHigh));
        tm.ReadSegmentField(ref reader, SegmentField.LastDcIteration, segHigh);
        tm.ReadSegmentField(ref reader, SegmentField.LastDc, segHigh);
        reader.ReadSpan(tm._segGeneration.AsSpan(0, segHigh));
        int freeCount = reader.PeekSpanLength();
        if (freeCount < 0 || freeCount > segHigh)
        {
            throw new CheckpointFormatException("Backtracking TM free segment list is impossible.");
        }

        reader.ReadSpan(tm._freeSegIds.AsSpan(0, freeCount));
        tm._freeSegCount = freeCount;
        for (int seg = 0; seg < segHigh; seg++)
        {
            int n = tm._segSynCount[seg];
            if (n < 0 || n > tm._synLimit || (uint)tm._seg[seg].Cell >= (uint)tm._cellCount && tm._seg[seg].Cell != -1)
            {
                throw new CheckpointFormatException($"Backtracking TM segment {seg} is inconsistent.");
            }

            if (n > tm._maxSyn)
            {
                tm.WidenSynapseStride();
            }

            reader.ReadSpan(tm._synSource.AsSpan(seg * tm._maxSyn, n));
            reader.ReadSpan(tm._synPerm.AsSpan(seg * tm._maxSyn, n));
            int connected = 0;
            foreach (float perm in tm._synPerm.AsSpan(seg * tm._maxSyn, n))
            {
                if (perm >= p.ConnectedPermanence)
                {
                    connected++;
                }
            }

            tm._segConnected[seg] = connected;
        }

        tm._cellSlots.Load(ref reader);
        var freeSlots = new IntListPool(tm._cellCount, InitialCellListCapacity);
        freeSlots.Load(ref reader);
        tm._cellFreeSlots = freeSlots.IsEmpty ? null : freeSlots; // as a fresh TM holds it: not until a segment is freed

        tm._outSynapses.Load(ref reader, valueShift: LinkShift);

        // Links Cells4's stale-index freeing erased are missing from the forward index; count them per segment.
        for (int seg = 0; seg < tm._segHigh; seg++)
        {
            tm._segBroken[seg] = tm._segSynCount[seg];
        }

        float connectedPerm = tm._p.ConnectedPermanence;
        for (int cell = 0; cell < tm._cellCount; cell++)
        {
            Span<int> links = tm._outSynapses.Get(cell);
            for (int i = 0; i < links.Length; i++)
            {
                int target = SegmentOfLink(links[i]);
                if ((uint)target >= (uint)tm._segHigh || --tm._segBroken[target] < 0)
                {
                    throw new CheckpointFormatException("Backtracking TM forward index is inconsistent.");
                }

                // Restore the connected tag from the synapse the link stands for (sources are sorted per segment).
                int start = target * tm._maxSyn;
                int k = tm._synSource.AsSpan(start, tm._segSynCount[target]).BinarySearch(cell);
                if (k < 0)
                {
                    throw new CheckpointFormatException("Backtracking TM forward index links a synapse that does not exist.");
                }

                links[i] = Link(target, tm._synPerm[start + k] >= connectedPerm);
            }
        }

        ReadCells(ref reader, tm._infActiveT, tm._cellCount);
        ReadCells(ref reader, tm._infPredictedT, tm._cellCount);
        ReadCells(ref reader, tm._lrnActiveT, tm._cellCount);
        ReadCells(ref reader, tm._lrnPredictedT, tm._cellCount);
        int confCells = reader.PeekSpanLength();
        if (confCells < 0 || confCells > tm._cellCount)
        {
            throw new CheckpointFormatException("Backtracking TM index list is too long.");
        }

        tm.EnsureConfCellCapacity(confCells);
        tm._confCellCount = ReadIndexList(ref reader, tm._confCells, tm._cellCount);
        for (int i = 0; i < tm._confCellCount; i++)
        {
            tm._confCellValues[i] = reader.ReadSingle();
        }

        tm._confColCount = ReadIndexList(ref reader, tm._confCols, tm._columns);
        for (int i = 0; i < tm._confColCount; i++)
        {
            tm._colConfidence[tm._confCols[i]] = reader.ReadSingle();
        }

        ReadPatterns(ref reader, tm._infPatterns, tm._columns);
        ReadPatterns(ref reader, tm._lrnPatterns, tm._columns);

        int updates = reader.ReadInt32();
        if (updates < 0 || updates > tm._columns * 4)
        {
            throw new CheckpointFormatException("Backtracking TM update queue is impossible.");
        }

        Span<int> sources = stackalloc int[tm._scratchUpdate.Length];
        for (int u = 0; u < updates; u++)
        {
            int seg = reader.ReadInt32();
            int generation = reader.ReadInt32();
            int time = reader.ReadInt32();
            int n = reader.PeekSpanLength();
            if ((uint)seg >= (uint)segHigh || n < 0 || n > sources.Length)
            {
                throw new CheckpointFormatException("Backtracking TM queued update is inconsistent.");
            }

            reader.ReadSpan(sources[..n]);
            tm.QueueUpdate(seg, sources[..n]);
            tm._updGeneration[u] = generation;
            tm._updTime[u] = time;
        }

        return tm;
    }

    private static void WriteParameters(CheckpointWriter w, BacktrackingTmParameters p)
    {
        w.WriteInt32(p.ColumnCount);
        w.WriteInt32(p.CellsPerColumn);
        w.WriteInt32(p.ActivationThreshold);
        w.WriteInt32(p.MinThreshold);
        w.WriteInt32(p.NewSynapseCount);
        w.WriteSingle(p.InitialPermanence);
        w.WriteSingle(p.ConnectedPermanence);
        w.WriteSingle(p.PermanenceIncrement);
        w.WriteSingle(p.PermanenceDecrement);
        w.WriteInt32(p.MaxSegmentsPerCell);
        w.WriteInt32(p.MaxSynapsesPerSegment);
        w.WriteInt32(p.PamLength);
        w.WriteInt32(p.MaxInfBacktrack);
        w.WriteInt32(p.MaxLrnBacktrack);
        w.WriteInt32(p.MaxSeqLength);
        w.WriteUInt64(p.Seed);
    }

    private static BacktrackingTmParameters ReadParameters(ref CheckpointReader r) => new()
    {
        ColumnCount = r.ReadInt32(),
        CellsPerColumn = r.ReadInt32(),
        ActivationThreshold = r.ReadInt32(),
        MinThreshold = r.ReadInt32(),
        NewSynapseCount = r.ReadInt32(),
        InitialPermanence = r.ReadSingle(),
        ConnectedPermanence = r.ReadSingle(),
        PermanenceIncrement = r.ReadSingle(),
        PermanenceDecrement = r.ReadSingle(),
        MaxSegmentsPerCell = r.ReadInt32(),
        MaxSynapsesPerSegment = r.ReadInt32(),
        PamLength = r.ReadInt32(),
        MaxInfBacktrack = r.ReadInt32(),
        MaxLrnBacktrack = r.ReadInt32(),
        MaxSeqLength = r.ReadInt32(),
        Seed = r.ReadUInt64(),
    };

    private static void WriteSorted(CheckpointWriter writer, CellSet set)
    {
        int[] copy = set.Members.ToArray();
        Array.Sort(copy);
        writer.WriteSpan<int>(copy);
    }

    private static void ReadCells(ref CheckpointReader reader, CellSet set, int cellCount)
    {
        int[] cells = reader.ReadArray<int>();
        for (int i = 0; i < cells.Length; i++)
        {
            if ((uint)cells[i] >= (uint)cellCount)
            {
                throw new CheckpointFormatException("Backtracking TM cell index out of range.");
            }
        }

        set.LoadMembers(cells);
    }

    private static int ReadIndexList(ref CheckpointReader reader, int[] destination, int limit)
    {
        int n = reader.PeekSpanLength();
        if (n < 0 || n > destination.Length)
        {
            throw new CheckpointFormatException("Backtracking TM index list is too long.");
        }

        reader.ReadSpan(destination.AsSpan(0, n));
        for (int i = 0; i < n; i++)
        {
            if ((uint)destination[i] >= (uint)limit)
            {
                throw new CheckpointFormatException("Backtracking TM index out of range.");
            }
        }

        return n;
    }

    private static void WritePatterns(CheckpointWriter writer, PatternQueue queue)
    {
        writer.WriteInt32(queue.Count);
        for (int i = 0; i < queue.Count; i++)
        {
            writer.WriteSpan(queue[i]);
        }
    }

    private static void ReadPatterns(ref CheckpointReader reader, PatternQueue queue, int columns)
    {
        int n = reader.ReadInt32();
        if (n < 0 || n > queue.Capacity)
        {
            throw new CheckpointFormatException("Backtracking TM pattern history is too long.");
        }

        for (int i = 0; i < n; i++)
        {
            int[] pattern = reader.ReadArray<int>();
            if (pattern.Length > columns)
            {
                throw new CheckpointFormatException("Backtracking TM pattern is too long.");
            }

            queue.Push(pattern);
        }
    }

    /// <summary>Which per-segment field <see cref="WriteSegmentField"/> and <see cref="ReadSegmentField"/> move.</summary>
    private enum SegmentField
    {
        Cell,
        Slot,
        LastDcIteration,
        LastDc,
    }

    /// <summary>
    /// Writes one field of every segment below the high-water mark exactly as a span of that field alone would be
    /// written (count, then 4-byte little-endian values), so the format predates and ignores the in-memory layout.
    /// </summary>
    private void WriteSegmentField(CheckpointWriter writer, SegmentField field)
    {
        writer.WriteInt32(_segHigh);
        for (int seg = 0; seg < _segHigh; seg++)
        {
            ref SegmentState state = ref _seg[seg];
            switch (field)
            {
                case SegmentField.Cell:
                    writer.WriteInt32(state.Cell);
                    break;
                case SegmentField.Slot:
                    writer.WriteInt32(state.Slot);
                    break;
                case SegmentField.LastDcIteration:
                    writer.WriteInt32(state.LastDcIteration);
                    break;
                default:
                    writer.WriteSingle(state.LastDc);
                    break;
            }
        }
    }

    /// <summary>Reads what <see cref="WriteSegmentField"/> wrote into the first <paramref name="segHigh"/> segments.</summary>
    private void ReadSegmentField(ref CheckpointReader reader, SegmentField field, int segHigh)
    {
        int count = reader.ReadInt32();
        if (count != segHigh)
        {
            throw new CheckpointFormatException($"Checkpoint span holds {count} elements where {segHigh} were expected.");
        }

        for (int seg = 0; seg < segHigh; seg++)
        {
            ref SegmentState state = ref _seg[seg];
            switch (field)
            {
                case SegmentField.Cell:
                    state.Cell = reader.ReadInt32();
                    break;
                case SegmentField.Slot:
                    state.Slot = reader.ReadInt32();
                    break;
                case SegmentField.LastDcIteration:
                    state.LastDcIteration = reader.ReadInt32();
                    break;
                default:
                    state.LastDc = reader.ReadSingle();
                    break;
            }
        }
    }
}
