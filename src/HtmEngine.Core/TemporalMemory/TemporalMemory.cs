using HtmEngine.Core.Checkpoints;
using HtmEngine.Core.Randomness;

namespace HtmEngine.Core.TemporalMemory;

/// <summary>
/// nupic.core 1.0's <c>TemporalMemory</c> (htm-algorithm.md §2.6), the numentaTM detector's sequence memory: cells
/// predict through dendrite segments of active connected synapses; predicted active columns activate only their
/// predicted cells, others burst; learning adapts the segments that caused activity, grows synapses to the previous
/// winner cells, punishes matching segments of inactive columns and recycles the least recently used segment of a
/// full cell.
/// </summary>
/// <remarks>
/// <para>Storage is flat: a segment pool (ids reused through a free list) with a fixed block of
/// <c>MaxSynapsesPerSegment</c> synapse slots per segment, kept in creation order; per cell the ordered list of its
/// segments; per presynaptic cell the list of synapses it feeds (swap-removed in O(1)) so that dendrite activity
/// is one pass over the synapses of the active cells. Pools grow by doubling while the memory learns; once they
/// have reached their working size a step allocates nothing.</para>
/// <para>Random draws (cell choice on bursting, synapse choice on growth) follow nupic.core's call order on
/// <see cref="NupicRandom"/>, so a run is reproducible across runs and across checkpoint/restore.</para>
/// </remarks>
public sealed class TemporalMemory : ISequenceMemory
{
    private const float Epsilon = 0.000001f;
    private const ushort CheckpointVersion = 1;

    private readonly TemporalMemoryParameters _p;
    private readonly int _cellsPerColumn;
    private readonly int _cellCount;
    private readonly int _maxSegmentsPerCell;
    private readonly int _maxSynapses;
    private NupicRandom _rng;
    private long _iteration;

    // Segment pool.
    private int _segmentCapacity;
    private int _segmentHighWater;
    private int[] _segmentCell;
    private int[] _segmentSynapseCount;
    private int[] _segmentIndexOnCell;
    private long[] _segmentLastUsed;
    private int[] _freeSegments;
    private int _freeSegmentCount;

    // Synapse slots: synapse id = segment · maxSynapses + position on the segment.
    private int[] _synapsePresynaptic;
    private float[] _synapsePermanence;
    private int[] _synapsePresynapticPosition;

    // Cell → its segments in creation order; presynaptic cell → the synapses it feeds.
    private readonly int[]?[] _cellSegments;
    private readonly int[] _cellSegmentCount;
    private readonly int[]?[] _presynapticSynapses;
    private readonly int[] _presynapticCount;

    // Step state.
    private int[] _activeCells;
    private int _activeCellCount;
    private int[] _winnerCells;
    private int _winnerCellCount;
    private int[] _previousActiveCells;
    private int _previousActiveCount;
    private int[] _previousWinnerCells;
    private int _previousWinnerCount;
    private readonly int[] _previousActiveStamp;
    private int _stamp;

    // Dendrite activity of the last step.
    private int[] _numActiveConnected;
    private int[] _numActivePotential;
    private int[] _touched;
    private int _touchedCount;
    private int[] _activeSegments;
    private int _activeSegmentCount;
    private int[] _matchingSegments;
    private int _matchingSegmentCount;
    private long[] _sortKeys;
    private readonly bool[] _predictedColumn;
    private readonly int[] _predictedColumnList;
    private int _predictedColumnCount;

    // Scratch.
    private readonly int[] _candidates;
    private readonly int[] _destroyCandidates;

    /// <summary>Creates an empty memory.</summary>
    public TemporalMemory(TemporalMemoryParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.Validate();
        _p = parameters;
        _cellsPerColumn = parameters.CellsPerColumn;
        _cellCount = parameters.ColumnCount * parameters.CellsPerColumn;
        _maxSegmentsPerCell = parameters.MaxSegmentsPerCell;
        _maxSynapses = parameters.MaxSynapsesPerSegment;
        _rng = new NupicRandom(parameters.Seed);

        _segmentCapacity = 0;
        _segmentCell = [];
        _segmentSynapseCount = [];
        _segmentIndexOnCell = [];
        _segmentLastUsed = [];
        _freeSegments = [];
        _synapsePresynaptic = [];
        _synapsePermanence = [];
        _synapsePresynapticPosition = [];
        _numActiveConnected = [];
        _numActivePotential = [];
        _touched = [];
        _activeSegments = [];
        _matchingSegments = [];
        _sortKeys = [];
        GrowSegmentPool(1024);

        _cellSegments = new int[]?[_cellCount];
        _cellSegmentCount = new int[_cellCount];
        _presynapticSynapses = new int[]?[_cellCount];
        _presynapticCount = new int[_cellCount];
        _activeCells = new int[_cellCount];
        _winnerCells = new int[_cellCount];
        _previousActiveCells = new int[_cellCount];
        _previousWinnerCells = new int[_cellCount];
        _previousActiveStamp = new int[_cellCount];
        _predictedColumn = new bool[parameters.ColumnCount];
        _predictedColumnList = new int[parameters.ColumnCount];
        _candidates = new int[_cellCount];
        _destroyCandidates = new int[_maxSynapses];
    }

    /// <summary>The parameters.</summary>
    public TemporalMemoryParameters Parameters => _p;

    /// <inheritdoc />
    public int ColumnCount => _p.ColumnCount;

    /// <summary>Steps learned so far (nupic.core's <c>iteration</c>, advanced by learning steps only).</summary>
    public long Iteration => _iteration;

    /// <summary>Cells active after the last step, ascending.</summary>
    public ReadOnlySpan<int> ActiveCells => _activeCells.AsSpan(0, _activeCellCount);

    /// <summary>Winner (learning) cells of the last step, ascending.</summary>
    public ReadOnlySpan<int> WinnerCells => _winnerCells.AsSpan(0, _winnerCellCount);

    /// <summary>Number of live segments.</summary>
    public int SegmentCount => _segmentHighWater - _freeSegmentCount;

    /// <summary>Number of synapses on live segments.</summary>
    public long SynapseCount
    {
        get
        {
            long total = 0;
            for (int c = 0; c < _cellCount; c++)
            {
                total += _presynapticCount[c];
            }

            return total;
        }
    }

    /// <summary>Number of segments of <paramref name="cell"/>.</summary>
    public int SegmentCountOfCell(int cell) => _cellSegmentCount[cell];

    /// <summary>Cells predicted for the next step (cells with an active segment), ascending, written to <paramref name="destination"/>.</summary>
    /// <returns>How many were written.</returns>
    public int GetPredictiveCells(Span<int> destination)
    {
        int n = 0;
        int last = -1;
        for (int k = 0; k < _activeSegmentCount; k++)
        {
            int cell = _segmentCell[_activeSegments[k]];
            if (cell != last)
            {
                destination[n++] = cell;
                last = cell;
            }
        }

        return n;
    }

    /// <summary>
    /// Checks the internal invariants (segment and synapse limits, index consistency, permanence range); returns
    /// the first violation, or null. For tests; O(size of the memory).
    /// </summary>
    public string? CheckInvariants()
    {
        long synapses = 0;
        for (int cell = 0; cell < _cellCount; cell++)
        {
            int count = _cellSegmentCount[cell];
            if (count > _maxSegmentsPerCell)
            {
                return $"cell {cell} has {count} segments";
            }

            for (int k = 0; k < count; k++)
            {
                int seg = _cellSegments[cell]![k];
                if (_segmentCell[seg] != cell || _segmentIndexOnCell[seg] != k)
                {
                    return $"segment {seg} index broken";
                }

                int n = _segmentSynapseCount[seg];
                if (n < 1 || n > _maxSynapses)
                {
                    return $"segment {seg} has {n} synapses";
                }

                for (int i = 0; i < n; i++)
                {
                    int id = (seg * _maxSynapses) + i;
                    float perm = _synapsePermanence[id];
                    if (!(perm >= 0.0f && perm <= 1.0f))
                    {
                        return $"synapse {id} permanence {perm}";
                    }

                    int pre = _synapsePresynaptic[id];
                    if (_presynapticSynapses[pre]![_synapsePresynapticPosition[id]] != id)
                    {
                        return $"synapse {id} presynaptic index broken";
                    }

                    for (int j = 0; j < i; j++)
                    {
                        if (_synapsePresynaptic[(seg * _maxSynapses) + j] == pre)
                        {
                            return $"segment {seg} has two synapses from cell {pre}";
                        }
                    }
                }

                synapses += n;
            }
        }

        return synapses == SynapseCount ? null : "presynaptic lists hold stale synapses";
    }

    /// <inheritdoc />
    public int CountPredicted(ReadOnlySpan<int> activeColumns)
    {
        int count = 0;
        foreach (int column in activeColumns)
        {
            if (_predictedColumn[column])
            {
                count++;
            }
        }

        return count;
    }

    /// <inheritdoc />
    public void Compute(ReadOnlySpan<int> activeColumns, bool learn)
    {
        int previous = -1;
        foreach (int column in activeColumns)
        {
            if (column <= previous || column >= _p.ColumnCount)
            {
                throw new ArgumentException("Active columns must be ascending, distinct and below ColumnCount.", nameof(activeColumns));
            }

            previous = column;
        }

        (_previousActiveCells, _activeCells) = (_activeCells, _previousActiveCells);
        _previousActiveCount = _activeCellCount;
        (_previousWinnerCells, _winnerCells) = (_winnerCells, _previousWinnerCells);
        _previousWinnerCount = _winnerCellCount;
        _activeCellCount = 0;
        _winnerCellCount = 0;
        _stamp++;
        for (int i = 0; i < _previousActiveCount; i++)
        {
            _previousActiveStamp[_previousActiveCells[i]] = _stamp;
        }

        ActivateCells(activeColumns, learn);
        ActivateDendrites(learn, advance: true);
    }

    /// <inheritdoc />
    public void Save(CheckpointWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteUInt32(CheckpointVersion);
        writer.WriteInt32(_p.ColumnCount);
        writer.WriteInt32(_p.CellsPerColumn);
        writer.WriteInt32(_p.ActivationThreshold);
        writer.WriteInt32(_p.MinThreshold);
        writer.WriteInt32(_p.MaxNewSynapseCount);
        writer.WriteSingle(_p.InitialPermanence);
        writer.WriteSingle(_p.ConnectedPermanence);
        writer.WriteSingle(_p.PermanenceIncrement);
        writer.WriteSingle(_p.PermanenceDecrement);
        writer.WriteSingle(_p.PredictedSegmentDecrement);
        writer.WriteInt32(_p.MaxSegmentsPerCell);
        writer.WriteInt32(_p.MaxSynapsesPerSegment);
        writer.WriteUInt64(_p.Seed);
        _rng.Save(writer);
        writer.WriteInt64(_iteration);
        for (int cell = 0; cell < _cellCount; cell++)
        {
            int count = _cellSegmentCount[cell];
            if (count == 0)
            {
                continue;
            }

            writer.WriteInt32(cell);
            writer.WriteInt32(count);
            for (int k = 0; k < count; k++)
            {
                int seg = _cellSegments[cell]![k];
                int n = _segmentSynapseCount[seg];
                writer.WriteInt64(_segmentLastUsed[seg]);
                writer.WriteSpan(new ReadOnlySpan<int>(_synapsePresynaptic, seg * _maxSynapses, n));
                writer.WriteSpan(new ReadOnlySpan<float>(_synapsePermanence, seg * _maxSynapses, n));
            }
        }

        writer.WriteInt32(-1);
        writer.WriteSpan(new ReadOnlySpan<int>(_activeCells, 0, _activeCellCount));
        writer.WriteSpan(new ReadOnlySpan<int>(_winnerCells, 0, _winnerCellCount));
    }

    /// <summary>Reads a memory written by <see cref="Save"/>; it continues exactly as the saved one would.</summary>
    /// <exception cref="CheckpointFormatException">The stored state is inconsistent.</exception>
    public static TemporalMemory Load(ref CheckpointReader reader)
    {
        uint version = reader.ReadUInt32();
        if (version != CheckpointVersion)
        {
            throw new CheckpointFormatException($"TemporalMemory state version {version} is not supported.");
        }

        TemporalMemoryParameters p;
        TemporalMemory tm;
        try
        {
            p = new TemporalMemoryParameters
            {
                ColumnCount = reader.ReadInt32(),
                CellsPerColumn = reader.ReadInt32(),
                ActivationThreshold = reader.ReadInt32(),
                MinThreshold = reader.ReadInt32(),
                MaxNewSynapseCount = reader.ReadInt32(),
                InitialPermanence = reader.ReadSingle(),
                ConnectedPermanence = reader.ReadSingle(),
                PermanenceIncrement = reader.ReadSingle(),
                PermanenceDecrement = reader.ReadSingle(),
                PredictedSegmentDecrement = reader.ReadSingle(),
                MaxSegmentsPerCell = reader.ReadInt32(),
                MaxSynapsesPerSegment = reader.ReadInt32(),
                Seed = reader.ReadUInt64(),
            };
            tm = new TemporalMemory(p);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new CheckpointFormatException($"Stored TemporalMemory parameters are invalid: {e.Message}");
        }

        tm._rng = NupicRandom.Load(ref reader);
        tm._iteration = reader.ReadInt64();
        int previousCell = -1;
        for (int cell = reader.ReadInt32(); cell != -1; cell = reader.ReadInt32())
        {
            if (cell <= previousCell || cell >= tm._cellCount)
            {
                throw new CheckpointFormatException($"Stored TemporalMemory cell {cell} is out of order or range.");
            }

            previousCell = cell;
            int count = reader.ReadInt32();
            if (count < 1 || count > tm._maxSegmentsPerCell)
            {
                throw new CheckpointFormatException($"Stored cell {cell} has {count} segments.");
            }

            for (int k = 0; k < count; k++)
            {
                long lastUsed = reader.ReadInt64();
                int seg = tm.CreateSegment(cell);
                tm._segmentLastUsed[seg] = lastUsed;
                int n = reader.PeekSpanLength();
                if (n < 1 || n > tm._maxSynapses)
                {
                    throw new CheckpointFormatException($"Stored segment has {n} synapses.");
                }

                Span<int> presynaptic = tm._synapsePresynaptic.AsSpan(seg * tm._maxSynapses, n);
                reader.ReadSpan(presynaptic);
                reader.ReadSpan(tm._synapsePermanence.AsSpan(seg * tm._maxSynapses, n));
                for (int i = 0; i < n; i++)
                {
                    int pre = presynaptic[i];
                    if ((uint)pre >= (uint)tm._cellCount)
                    {
                        throw new CheckpointFormatException($"Stored synapse from cell {pre} is out of range.");
                    }

                    int id = (seg * tm._maxSynapses) + i;
                    tm._synapsePresynapticPosition[id] = tm.AddToPresynaptic(pre, id);
                }

                tm._segmentSynapseCount[seg] = n;
            }
        }

        tm._activeCellCount = ReadCells(ref reader, tm._activeCells, tm._cellCount);
        tm._winnerCellCount = ReadCells(ref reader, tm._winnerCells, tm._cellCount);
        tm.ActivateDendrites(learn: false, advance: false);
        return tm;
    }

    private static int ReadCells(ref CheckpointReader reader, int[] destination, int cellCount)
    {
        int n = reader.PeekSpanLength();
        if (n < 0 || n > cellCount)
        {
            throw new CheckpointFormatException($"Stored cell list of {n} entries.");
        }

        reader.ReadSpan(destination.AsSpan(0, n));
        for (int i = 0; i < n; i++)
        {
            if ((uint)destination[i] >= (uint)cellCount || (i > 0 && destination[i] <= destination[i - 1]))
            {
                throw new CheckpointFormatException("Stored cell list is not ascending or out of range.");
            }
        }

        return n;
    }

    private int ColumnOfSegment(int segment) => _segmentCell[segment] / _cellsPerColumn;

    private void ActivateCells(ReadOnlySpan<int> activeColumns, bool learn)
    {
        int columnIndex = 0;
        int a = 0;
        int m = 0;
        while (columnIndex < activeColumns.Length || m < _matchingSegmentCount)
        {
            int nextActive = columnIndex < activeColumns.Length ? activeColumns[columnIndex] : int.MaxValue;
            int nextMatching = m < _matchingSegmentCount ? ColumnOfSegment(_matchingSegments[m]) : int.MaxValue;
            int column = Math.Min(nextActive, nextMatching);

            while (a < _activeSegmentCount && ColumnOfSegment(_activeSegments[a]) < column)
            {
                a++;
            }

            int activeStart = a;
            while (a < _activeSegmentCount && ColumnOfSegment(_activeSegments[a]) == column)
            {
                a++;
            }

            int matchingStart = m;
            while (m < _matchingSegmentCount && ColumnOfSegment(_matchingSegments[m]) == column)
            {
                m++;
            }

            if (column == nextActive)
            {
                columnIndex++;
                if (a > activeStart)
                {
                    ActivatePredictedColumn(activeStart, a, learn);
                }
                else
                {
                    BurstColumn(column, matchingStart, m, learn);
                }
            }
            else if (learn && _p.PredictedSegmentDecrement > 0)
            {
                for (int k = matchingStart; k < m; k++)
                {
                    AdaptSegment(_matchingSegments[k], -_p.PredictedSegmentDecrement, 0.0f);
                }
            }
        }
    }

    private void ActivatePredictedColumn(int start, int end, bool learn)
    {
        int cell = -1;
        for (int k = start; k < end; k++)
        {
            int segment = _activeSegments[k];
            int owner = _segmentCell[segment];
            if (owner != cell)
            {
                cell = owner;
                _activeCells[_activeCellCount++] = cell;
                _winnerCells[_winnerCellCount++] = cell;
            }

            if (learn)
            {
                int potential = _numActivePotential[segment];
                if (AdaptSegment(segment, _p.PermanenceIncrement, _p.PermanenceDecrement))
                {
                    int grow = _p.MaxNewSynapseCount - potential;
                    if (grow > 0)
                    {
                        GrowSynapses(segment, grow);
                    }
                }
            }
        }
    }

    private void BurstColumn(int column, int matchingStart, int matchingEnd, bool learn)
    {
        int first = column * _cellsPerColumn;
        for (int c = 0; c < _cellsPerColumn; c++)
        {
            _activeCells[_activeCellCount++] = first + c;
        }

        int best = -1;
        int bestPotential = -1;
        for (int k = matchingStart; k < matchingEnd; k++)
        {
            int segment = _matchingSegments[k];
            if (_numActivePotential[segment] > bestPotential)
            {
                best = segment;
                bestPotential = _numActivePotential[segment];
            }
        }

        int winner;
        if (best >= 0)
        {
            winner = _segmentCell[best];
            if (learn && AdaptSegment(best, _p.PermanenceIncrement, _p.PermanenceDecrement))
            {
                int grow = _p.MaxNewSynapseCount - bestPotential;
                if (grow > 0)
                {
                    GrowSynapses(best, grow);
                }
            }
        }
        else
        {
            winner = LeastUsedCell(first);
            if (learn)
            {
                int grow = Math.Min(_p.MaxNewSynapseCount, _previousWinnerCount);
                if (grow > 0)
                {
                    int segment = CreateSegment(winner);
                    GrowSynapses(segment, grow);
                }
            }
        }

        _winnerCells[_winnerCellCount++] = winner;
    }

    private int LeastUsedCell(int first)
    {
        int min = int.MaxValue;
        int ties = 0;
        for (int c = first; c < first + _cellsPerColumn; c++)
        {
            int n = _cellSegmentCount[c];
            if (n < min)
            {
                min = n;
                ties = 1;
            }
            else if (n == min)
            {
                ties++;
            }
        }

        uint pick = _rng.GetUInt32((uint)ties);
        for (int c = first; c < first + _cellsPerColumn; c++)
        {
            if (_cellSegmentCount[c] == min)
            {
                if (pick == 0)
                {
                    return c;
                }

                pick--;
            }
        }

        return first;
    }

    // Returns false when the segment lost its last synapse and was destroyed.
    private bool AdaptSegment(int segment, float increment, float decrement)
    {
        int baseId = segment * _maxSynapses;
        int n = _segmentSynapseCount[segment];
        for (int i = 0; i < n;)
        {
            int id = baseId + i;
            float permanence = _synapsePermanence[id];
            if (_previousActiveStamp[_synapsePresynaptic[id]] == _stamp)
            {
                permanence += increment;
            }
            else
            {
                permanence -= decrement;
            }

            permanence = Math.Min(permanence, 1.0f);
            permanence = Math.Max(permanence, 0.0f);
            if (permanence < Epsilon)
            {
                DestroySynapse(segment, i);
                n--;
            }
            else
            {
                _synapsePermanence[id] = permanence;
                i++;
            }
        }

        if (n == 0)
        {
            DestroySegment(segment);
            return false;
        }

        return true;
    }

    private void GrowSynapses(int segment, int desired)
    {
        Span<int> candidates = _candidates;
        int count = _previousWinnerCount;
        _previousWinnerCells.AsSpan(0, count).CopyTo(candidates);
        int baseId = segment * _maxSynapses;
        int n = _segmentSynapseCount[segment];
        for (int i = 0; i < n; i++)
        {
            int at = candidates[..count].BinarySearch(_synapsePresynaptic[baseId + i]);
            if (at >= 0)
            {
                candidates.Slice(at + 1, count - at - 1).CopyTo(candidates[at..]);
                count--;
            }
        }

        int actual = Math.Min(desired, count);
        int overrun = n + actual - _maxSynapses;
        if (overrun > 0)
        {
            DestroyMinPermanenceSynapses(segment, overrun);
        }

        int actualWithMax = Math.Min(actual, _maxSynapses - _segmentSynapseCount[segment]);
        for (int c = 0; c < actualWithMax; c++)
        {
            int i = (int)_rng.GetUInt32((uint)count);
            CreateSynapse(segment, candidates[i], _p.InitialPermanence);
            candidates.Slice(i + 1, count - i - 1).CopyTo(candidates[i..]);
            count--;
        }
    }

    private void DestroyMinPermanenceSynapses(int segment, int destroy)
    {
        int baseId = segment * _maxSynapses;
        int n = _segmentSynapseCount[segment];
        ReadOnlySpan<int> excluded = _previousWinnerCells.AsSpan(0, _previousWinnerCount);
        Span<int> slots = _destroyCandidates;
        int count = 0;
        for (int i = 0; i < n; i++)
        {
            if (excluded.BinarySearch(_synapsePresynaptic[baseId + i]) < 0)
            {
                slots[count++] = i;
            }
        }

        for (int d = 0; d < destroy && count > 0; d++)
        {
            float min = float.MaxValue;
            int minAt = 0;
            for (int k = 0; k < count; k++)
            {
                float permanence = _synapsePermanence[baseId + slots[k]];
                if (permanence < min - Epsilon)
                {
                    minAt = k;
                    min = permanence;
                }
            }

            int slot = slots[minAt];
            DestroySynapse(segment, slot);
            slots.Slice(minAt + 1, count - minAt - 1).CopyTo(slots[minAt..]);
            count--;
            for (int k = 0; k < count; k++)
            {
                if (slots[k] > slot)
                {
                    slots[k]--;
                }
            }
        }
    }

    private int CreateSegment(int cell)
    {
        while (_cellSegmentCount[cell] >= _maxSegmentsPerCell)
        {
            int[] list = _cellSegments[cell]!;
            int lru = list[0];
            for (int k = 1; k < _cellSegmentCount[cell]; k++)
            {
                if (_segmentLastUsed[list[k]] < _segmentLastUsed[lru])
                {
                    lru = list[k];
                }
            }

            DestroySegment(lru);
        }

        int segment;
        if (_freeSegmentCount > 0)
        {
            segment = _freeSegments[--_freeSegmentCount];
        }
        else
        {
            if (_segmentHighWater == _segmentCapacity)
            {
                GrowSegmentPool(_segmentCapacity * 2);
            }

            segment = _segmentHighWater++;
        }

        _segmentCell[segment] = cell;
        _segmentSynapseCount[segment] = 0;
        _segmentLastUsed[segment] = _iteration;
        int[]? segments = _cellSegments[cell];
        int count = _cellSegmentCount[cell];
        if (segments is null || segments.Length == count)
        {
            Array.Resize(ref segments, Math.Min(_maxSegmentsPerCell, Math.Max(4, count * 2)));
            _cellSegments[cell] = segments;
        }

        segments[count] = segment;
        _segmentIndexOnCell[segment] = count;
        _cellSegmentCount[cell] = count + 1;
        return segment;
    }

    private void DestroySegment(int segment)
    {
        int baseId = segment * _maxSynapses;
        int n = _segmentSynapseCount[segment];
        for (int i = 0; i < n; i++)
        {
            RemoveFromPresynaptic(_synapsePresynaptic[baseId + i], _synapsePresynapticPosition[baseId + i]);
        }

        _segmentSynapseCount[segment] = 0;
        int cell = _segmentCell[segment];
        int[] list = _cellSegments[cell]!;
        int count = _cellSegmentCount[cell];
        for (int k = _segmentIndexOnCell[segment] + 1; k < count; k++)
        {
            list[k - 1] = list[k];
            _segmentIndexOnCell[list[k]] = k - 1;
        }

        _cellSegmentCount[cell] = count - 1;
        _segmentCell[segment] = -1;
        _freeSegments[_freeSegmentCount++] = segment;
    }

    private void CreateSynapse(int segment, int presynapticCell, float permanence)
    {
        int n = _segmentSynapseCount[segment];
        int id = (segment * _maxSynapses) + n;
        _synapsePresynaptic[id] = presynapticCell;
        _synapsePermanence[id] = permanence;
        _synapsePresynapticPosition[id] = AddToPresynaptic(presynapticCell, id);
        _segmentSynapseCount[segment] = n + 1;
    }

    // Removes the synapse at position i of the segment, keeping the others in creation order.
    private void DestroySynapse(int segment, int i)
    {
        int baseId = segment * _maxSynapses;
        int n = _segmentSynapseCount[segment];
        int id = baseId + i;
        RemoveFromPresynaptic(_synapsePresynaptic[id], _synapsePresynapticPosition[id]);
        for (int j = i + 1; j < n; j++)
        {
            int from = baseId + j;
            int to = from - 1;
            int pre = _synapsePresynaptic[from];
            int position = _synapsePresynapticPosition[from];
            _synapsePresynaptic[to] = pre;
            _synapsePermanence[to] = _synapsePermanence[from];
            _synapsePresynapticPosition[to] = position;
            _presynapticSynapses[pre]![position] = to;
        }

        _segmentSynapseCount[segment] = n - 1;
    }

    private int AddToPresynaptic(int cell, int synapse)
    {
        int[]? list = _presynapticSynapses[cell];
        int count = _presynapticCount[cell];
        if (list is null || list.Length == count)
        {
            Array.Resize(ref list, Math.Max(8, count * 2));
            _presynapticSynapses[cell] = list;
        }

        list[count] = synapse;
        _presynapticCount[cell] = count + 1;
        return count;
    }

    private void RemoveFromPresynaptic(int cell, int position)
    {
        int[] list = _presynapticSynapses[cell]!;
        int last = --_presynapticCount[cell];
        if (position != last)
        {
            int moved = list[last];
            list[position] = moved;
            _synapsePresynapticPosition[moved] = position;
        }
    }

    private void ActivateDendrites(bool learn, bool advance)
    {
        for (int t = 0; t < _touchedCount; t++)
        {
            int segment = _touched[t];
            _numActiveConnected[segment] = 0;
            _numActivePotential[segment] = 0;
        }

        _touchedCount = 0;
        float connected = _p.ConnectedPermanence - Epsilon;
        for (int a = 0; a < _activeCellCount; a++)
        {
            int cell = _activeCells[a];
            int count = _presynapticCount[cell];
            if (count == 0)
            {
                continue;
            }

            int[] synapses = _presynapticSynapses[cell]!;
            for (int s = 0; s < count; s++)
            {
                int id = synapses[s];
                int segment = id / _maxSynapses;
                if (_numActivePotential[segment]++ == 0)
                {
                    _touched[_touchedCount++] = segment;
                }

                if (_synapsePermanence[id] >= connected)
                {
                    _numActiveConnected[segment]++;
                }
            }
        }

        _activeSegmentCount = Collect(_numActiveConnected, _p.ActivationThreshold, _activeSegments);
        _matchingSegmentCount = Collect(_numActivePotential, _p.MinThreshold, _matchingSegments);

        for (int k = 0; k < _predictedColumnCount; k++)
        {
            _predictedColumn[_predictedColumnList[k]] = false;
        }

        _predictedColumnCount = 0;
        for (int k = 0; k < _activeSegmentCount; k++)
        {
            int column = ColumnOfSegment(_activeSegments[k]);
            if (!_predictedColumn[column])
            {
                _predictedColumn[column] = true;
                _predictedColumnList[_predictedColumnCount++] = column;
            }
        }

        if (learn && advance)
        {
            for (int k = 0; k < _activeSegmentCount; k++)
            {
                _segmentLastUsed[_activeSegments[k]] = _iteration;
            }

            _iteration++;
        }
    }

    // Segments whose count reaches the threshold, sorted by (cell, position on the cell) as nupic.core sorts them.
    private int Collect(int[] counts, int threshold, int[] destination)
    {
        int n = 0;
        for (int t = 0; t < _touchedCount; t++)
        {
            int segment = _touched[t];
            if (counts[segment] >= threshold)
            {
                _sortKeys[n] = ((long)_segmentCell[segment] * _maxSegmentsPerCell) + _segmentIndexOnCell[segment];
                destination[n++] = segment;
            }
        }

        _sortKeys.AsSpan(0, n).Sort(destination.AsSpan(0, n));
        return n;
    }

    private void GrowSegmentPool(int capacity)
    {
        Array.Resize(ref _segmentCell, capacity);
        Array.Resize(ref _segmentSynapseCount, capacity);
        Array.Resize(ref _segmentIndexOnCell, capacity);
        Array.Resize(ref _segmentLastUsed, capacity);
        Array.Resize(ref _freeSegments, capacity);
        Array.Resize(ref _numActiveConnected, capacity);
        Array.Resize(ref _numActivePotential, capacity);
        Array.Resize(ref _touched, capacity);
        Array.Resize(ref _activeSegments, capacity);
        Array.Resize(ref _matchingSegments, capacity);
        Array.Resize(ref _sortKeys, capacity);
        Array.Resize(ref _synapsePresynaptic, capacity * _maxSynapses);
        Array.Resize(ref _synapsePermanence, capacity * _maxSynapses);
        Array.Resize(ref _synapsePresynapticPosition, capacity * _maxSynapses);
        _segmentCapacity = capacity;
    }
}
