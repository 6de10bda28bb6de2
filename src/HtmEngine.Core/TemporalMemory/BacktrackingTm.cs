using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using HtmEngine.Core.Randomness;

namespace HtmEngine.Core.TemporalMemory;

/// <summary>
/// The backtracking temporal memory of NuPIC (<c>Cells4</c>, htm-algorithm.md §2.5): the TM behind the NAB
/// "numenta" detector. Inference keeps any number of active cells per column and backtracks over up to
/// <see cref="BacktrackingTmParameters.MaxInfBacktrack"/> past inputs when it falls out of sequence; learning
/// keeps one cell per column, restarts on start cells after <see cref="BacktrackingTmParameters.PamLength"/>
/// steps out of sequence or every <see cref="BacktrackingTmParameters.MaxSeqLength"/> steps, and backtracks too.
/// </summary>
/// <remarks>
/// <para>Storage (htm-algorithm.md §4.2, flattened): a segment is an integer id; its synapses live in a fixed
/// block of <c>MaxSynapsesPerSegment</c> entries (source cell, float32 permanence) kept sorted by source.
/// Each cell owns a list of slots (slot → segment id, −1 when freed) and a stack of freed slots that new
/// segments reuse first, as Cells4 does. A forward index maps each source cell to the ids of the segments it
/// has a synapse on (one entry per synapse, connected or not); activity is counted by walking the out-lists of
/// the on cells into byte counters, and only segments that reach a threshold are looked at again.</para>
/// <para>All buffers grow by doubling and are reused, so a step allocates nothing once they are large enough.
/// Not thread-safe: a model owns its TM.</para>
/// </remarks>
public sealed partial class BacktrackingTm : ISequenceMemory
{
    // Duty-cycle tiers and their learning rates (htm-algorithm.md §2.5); index 0 has no alpha.
    private static readonly int[] s_dutyCycleTiers = [0, 100, 320, 1000, 3200, 10000, 32000, 100000, 320000];
    private static readonly double[] s_dutyCycleAlphas = [0.0, 0.0032, 0.0010, 0.00032, 0.00010, 0.000032, 0.00001, 0.0000032, 0.0000010];

    private readonly BacktrackingTmParameters _p;
    private readonly int _columns;
    private readonly int _cellsPerColumn;
    private readonly int _cellCount;
    private readonly int _columnShift; // log2(cellsPerColumn) when it is a power of two, else −1 (see ColumnOf)
    private int _maxSyn; // synapse slots per segment (storage stride, a whole number of SynapseKernels.Lanes; see WidenSynapseStride)
    private readonly int _synRoom; // the widest stride: the limit below rounded up to whole vectors (scratch buffers hold it)
    private readonly int _synLimit; // the most synapses a segment may hold (twice the cap, see the constructor)
    private readonly int _synCap; // maxSynapsesPerSegment
    private readonly NupicRandom _random;

    // Segments, indexed by segment id.
    private SegmentState[] _seg; // the fields inference reads for every qualifying segment, side by side (see SegmentState)
    private int[] _segSynCount;
    private int[] _segPositive;
    private int[] _segTotal;
    private int[] _segLastActive;
    private int[] _segGeneration;
    private int[] _segBroken; // synapses whose forward link Cells4's stale-index freeing erased (see FreeSynapsesLikeCells4)
    private int[] _segConnected; // synapses with permanence ≥ connectedPerm (Cells4's _nConnected), to skip hopeless segments
    private ushort[] _activity; // per segment: active synapses (low byte), active connected synapses (high byte)
    private int[] _touchedSegs;
    private int _touchedCount;
    private int[] _qualSegs; // segments that reached the threshold of the last count
    private int _qualSegCount;
    private long[] _qualKeys; // (cell << 32 | slot) of the segments reaching a threshold, sorted
    private int[] _qualSorted; // the qualified segments in key order (swapped with _qualSegs)
    private int[] _qualNext; // per qualified index: the next one on the same cell in slot order, −1 at the end
    private readonly int[] _qualHead; // per cell: its first qualified index in slot order, −1 when none
    private readonly ulong[] _qualCellBits; // cells with a qualified segment
    private readonly ulong[] _qualCellWords; // non-zero words of _qualCellBits
    private int _qualCount;
    private int[] _freeSegIds;
    private int _freeSegCount;
    private int _segHigh;
    private int _segmentCount;
    private int _synapseCount;

    // Synapses: segment s owns [s·maxSyn, s·maxSyn + synCount).
    private int[] _synSource;
    private float[] _synPerm;

    // Per cell.
    private readonly IntListPool _cellSlots;
    private IntListPool? _cellFreeSlots; // created when a segment is first freed: a young model frees none (see FreeSlots)
    private readonly IntListPool _outSynapses;
    private readonly byte[] _cellMark;
    private int[] _markedCells; // grows with the qualified segments (MarkCells), not sized for every cell
    private int _markedCount;
    private readonly byte[] _setFlag;

    // Inference state.
    private CellSet _infActiveT;
    private CellSet _infActiveT1; // swapped with its t/t−1 twin each step (see UpdateInferenceState)
    private CellSet _infPredictedT;
    private CellSet _infPredictedT1; // swapped with its t/t−1 twin each step (see UpdateInferenceState)
    private readonly CellSet _backupActive;
    private readonly CellSet _backupPredictedT1;
    private readonly float[] _colConfidence;
    private int[] _confCells; // cells with a confidence, in cell order, and their confidences: grown to need
    private float[] _confCellValues;
    private int _confCellCount;
    private readonly int[] _confCols;
    private int _confColCount;
    private long[] _pendingKeys; // (cell << 32 | slot) of the last phase 2's qualifying segments, in no order
    private float[] _pendingDc; // their duty cycles, parallel to _pendingKeys
    private int _pendingCount;
    private bool _confidencePending; // the confidence arrays are not summed from the pending keys yet
    private bool _pendingTiny; // a pending duty cycle is below TinyDutyCycle (see CountPredicted)
    private readonly byte[] _cellPositive; // cells with a pending duty cycle > 0
    private readonly byte[] _predictedColumnMark;
    private readonly PatternQueue _infPatterns;

    // Learning state.
    private CellSet _lrnActiveT;
    private CellSet _lrnActiveT1; // swapped with its t/t−1 twin each step (see UpdateLearningState)
    private CellSet _lrnPredictedT;
    private CellSet _lrnPredictedT1; // swapped with its t/t−1 twin each step (see UpdateLearningState)
    private readonly PatternQueue _lrnPatterns;
    private readonly byte[] _colActive;

    // Queued segment updates (learning phase 2 → applied next step if the column turns on). An update is either
    // explicit (its sources in _updSources[offset, offset + length), _updActive −1) or deferred: offset and length
    // then name the snapshot of the learning state it was queued against, _updActive the number of the segment's
    // synapses on that state and _updChosen the positions of the new cells among the candidates (see LearnPhase2).
    private int[] _updSeg;
    private int[] _updGeneration;
    private int[] _updTime;
    private int[] _updOffset;
    private int[] _updLength;
    private int[] _updActive;
    private ulong[] _updChosen;
    private int[] _updColumn;  // the column of the update's cell when queued (−1: none), to skip updates unread
    private int[] _updApply;   // scratch: the updates ProcessSegmentUpdates applies, in queue order
    private int _updCount;
    private int[] _updSources;
    private int _updUsed;
    private readonly byte[] _snapshotFlag; // the cells of one queued snapshot, while its updates are applied
    private int _flaggedSnapshot = -1;     // the _updSources offset of the snapshot flagged in _snapshotFlag, or −1
    private int _flaggedSnapshotLength;

    // Scratch.
    private int[] _scratchCandidates; // grown to the largest state sampled from (ChooseCellsToLearnFrom)
    private readonly int[] _scratchChosen;
    private readonly int[] _scratchUpdate;
    private readonly int[] _scratchSynSrc;
    private readonly float[] _scratchSynPerm;
    private readonly byte[] _scratchSynKind;
    private readonly int[] _staleSrc;
    private readonly byte[] _reinforced; // per synapse of the segment being adapted: 1 when its source is in the set
    private readonly int[] _deadSources;
    private readonly int[] _crossedLinks;
    private readonly float[] _stalePerm;
    private readonly byte[] _staleKind;
    private readonly int[] _candIdx;
    private readonly float[] _candPerm;

    // Memoised duty-cycle decay factors (1 − alpha)^age of the current tier; 0 = not computed yet.
    private const int DecayTableSize = 4096;

    // Bits of a forward-index entry below the segment id (see Link), and the largest number of segments that leaves.
    private const int LinkShift = 9;
    private const int LinkIncrementMask = (1 << LinkShift) - 1;
    private const long MaxSegments = 1L << (32 - LinkShift);

    // Below this a duty cycle could make a column's normalised confidence underflow to 0 (see CountPredicted).
    private const float TinyDutyCycle = 1e-30f;

    // Segments ahead (qualified ones, queued updates) whose synapses are prefetched.
    private const int PrefetchDistance = 4;
    private readonly double[] _decayTable = new double[DecayTableSize];
    private double _decayAlpha = -1.0;
    private int _alphaIteration = -1; // the iteration _alpha was looked up for
    private double _alpha;

    // Scalars.
    private int _lrnIteration;
    private double _avgInputDensity;
    private bool _haveAvgInputDensity;
    private int _pamCounter;
    private int _learnedSeqLength;
    private bool _resetCalled;

    // Segment capacity of a new TM. A young model has a few hundred segments (160 after 5 NAB rows, ~1,500 after
    // 100) and the segment arrays double as needed, so a fresh model does not hold room for a thousand.
    private const int InitialSegments = 256;

    // Segment capacity after the first growth (see GrowSegments). A model that outgrows 256 segments is learning: ~1,500
    // segments after 100 NAB rows, ~2,300 after 100 rows of a noisy series and ~12,000 after 1,000. Every doubling
    // copies the storage into memory the process has never touched, and on the engine's VM each first touch of a page
    // costs ~12 µs (Core README, item 31), so the first growth goes straight to room for 16,384 segments while memory
    // allows. The new arrays are not zeroed, so the room not yet used costs address space, not pages; but the GC counts
    // it as committed (~10 MB per young model), and commits are what a GC hard limit (a container's) or strict
    // overcommit charge. So the large step is taken only while the GC's committed memory is below half of what it may
    // use; past that a first growth stops at 2,048, as before.
    private const int SmallGrownSegments = 2048;
    private const int LargeGrownSegments = 16384;

    /// <summary>The segment capacity of a first growth now (see <see cref="GrownSegmentsFor"/>).</summary>
    internal static int GrownSegments()
    {
        GCMemoryInfo info = GC.GetGCMemoryInfo();
        return GrownSegmentsFor(info.TotalAvailableMemoryBytes, info.TotalCommittedBytes);
    }

    /// <summary>
    /// The segment capacity of a first growth when the GC may use <paramref name="availableBytes"/> (physical memory or
    /// its hard limit) and has <paramref name="committedBytes"/> committed: 16,384 while that stays below half, else 2,048.
    /// </summary>
    internal static int GrownSegmentsFor(long availableBytes, long committedBytes) =>
        committedBytes < availableBytes / 2 ? LargeGrownSegments : SmallGrownSegments;

    // Initial room of the lists that grow with the activity of a step (marked cells, confidences, sample candidates).
    private const int InitialCellListCapacity = 256;

    /// <summary>Creates an empty TM (no segments) with the given parameters.</summary>
    public BacktrackingTm(BacktrackingTmParameters parameters)
        : this(parameters, new NupicRandom(CheckedSeed(parameters)), InitialSegments)
    {
    }

    private BacktrackingTm(BacktrackingTmParameters parameters, NupicRandom random, int initialSegments)
    {
        parameters.Validate();
        if ((long)parameters.ColumnCount * parameters.CellsPerColumn * parameters.MaxSegmentsPerCell > MaxSegments)
        {
            throw new ArgumentException(
                $"columns × cells per column × max segments per cell must not exceed {MaxSegments} (segment ids share a forward-index entry with its counter increment).",
                nameof(parameters));
        }

        _p = parameters;
        _random = random;
        _columns = parameters.ColumnCount;
        _cellsPerColumn = parameters.CellsPerColumn;
        _cellCount = _columns * _cellsPerColumn;
        _columnShift = BitOperations.IsPow2(_cellsPerColumn) ? BitOperations.Log2((uint)_cellsPerColumn) : -1;
        // A segment may hold twice the cap: Cells4's stale-index freeing can leave a segment above it. The stride is that
        // rounded up to whole vector steps, so SynapseKernels can read a segment's block in full vectors.
        _synLimit = parameters.MaxSynapsesPerSegment * 2;
        _synRoom = Math.Max(SynapseKernels.PaddedLength(_synLimit), 2 * SynapseKernels.Lanes); // two lines per array, see PrefetchSynapses
        _synCap = parameters.MaxSynapsesPerSegment;

        // The stride starts at the cap: only Cells4's stale-index freeing takes a segment above it, rarely and only after
        // many updates, and a young model's blocks would otherwise be half empty (512 bytes per segment, ~1,500 segments
        // after 100 NAB rows: their untouched halves still share pages with the used ones).
        _maxSyn = Math.Max(SynapseKernels.PaddedLength(_synCap), 2 * SynapseKernels.Lanes);

        int segs = Math.Max(initialSegments, 16);
        _seg = new SegmentState[segs];
        _segSynCount = new int[segs];
        _segPositive = new int[segs];
        _segTotal = new int[segs];
        _segLastActive = new int[segs];
        _segGeneration = new int[segs];
        _segConnected = new int[segs];
        _segBroken = new int[segs];
        _activity = new ushort[segs];
        _touchedSegs = new int[segs + 1];
        _qualSegs = new int[segs + 1];
        _qualKeys = new long[segs];
        _qualSorted = new int[segs + 1];
        _qualNext = new int[segs + 1];
        _freeSegIds = new int[segs];
        _synSource = new int[segs * _maxSyn];
        _synPerm = new float[segs * _maxSyn];

        // Each pool's first growth makes room for the segments of a first growth (one slot each; ~23 synapses each, with
        // the slack of the pool's doubling blocks), for the same reason.
        _cellSlots = new IntListPool(_cellCount, segs * 2, entriesPerGrownSegment: 2);
        _outSynapses = new IntListPool(_cellCount, segs * 16, entriesPerGrownSegment: 32);
        _cellMark = new byte[_cellCount];
        _markedCells = new int[Math.Min(_cellCount, InitialCellListCapacity)];
        _setFlag = new byte[_cellCount];
        _qualHead = new int[_cellCount];
        _qualHead.AsSpan().Fill(-1);
        _qualCellBits = new ulong[(_cellCount + 63) / 64];
        _qualCellWords = new ulong[(_qualCellBits.Length + 63) / 64];

        _infActiveT = new CellSet(_cellCount);
        _infActiveT1 = new CellSet(_cellCount);
        _infPredictedT = new CellSet(_cellCount);
        _infPredictedT1 = new CellSet(_cellCount);
        _backupActive = new CellSet(_cellCount);
        _backupPredictedT1 = new CellSet(_cellCount);
        _colConfidence = new float[_columns];
        _confCells = new int[Math.Min(_cellCount, InitialCellListCapacity)];
        _confCellValues = new float[_confCells.Length];
        _confCols = new int[_columns];
        _pendingKeys = new long[segs];
        _pendingDc = new float[segs];
        _cellPositive = new byte[_cellCount];
        _predictedColumnMark = new byte[_columns];
        _infPatterns = new PatternQueue(parameters.MaxInfBacktrack + 1, _columns);

        _lrnActiveT = new CellSet(_cellCount);
        _lrnActiveT1 = new CellSet(_cellCount);
        _lrnPredictedT = new CellSet(_cellCount);
        _lrnPredictedT1 = new CellSet(_cellCount);
        _lrnPatterns = new PatternQueue(parameters.MaxLrnBacktrack + 1, _columns);
        _colActive = new byte[_columns];

        _updSeg = new int[64];
        _updGeneration = new int[64];
        _updTime = new int[64];
        _updOffset = new int[64];
        _updLength = new int[64];
        _updActive = new int[64];
        _updChosen = new ulong[64];
        _updColumn = new int[64];
        _updApply = new int[64];
        _updSources = new int[64 * (_synRoom + parameters.NewSynapseCount)];
        _snapshotFlag = new byte[_cellCount];

        _scratchCandidates = new int[Math.Min(_cellCount, InitialCellListCapacity)];
        _scratchChosen = new int[_synRoom + parameters.NewSynapseCount];
        _scratchUpdate = new int[_synRoom + parameters.NewSynapseCount];
        _scratchSynSrc = new int[_synRoom + parameters.NewSynapseCount];
        _scratchSynPerm = new float[_synRoom + parameters.NewSynapseCount];
        _scratchSynKind = new byte[_synRoom + parameters.NewSynapseCount];
        _staleSrc = new int[_synRoom];
        _reinforced = new byte[_synRoom];
        _deadSources = new int[_synRoom];
        _crossedLinks = new int[_synRoom];
        _stalePerm = new float[_synRoom];
        _staleKind = new byte[_synRoom];
        _candIdx = new int[_synRoom];
        _candPerm = new float[_synRoom];

        // Cells4 starts with pamCounter = pamLength and no reset pending (the first step learns from random cells).
        _pamCounter = parameters.PamLength;
    }

    /// <summary>The parameters this TM was built with.</summary>
    public BacktrackingTmParameters Parameters => _p;

    /// <inheritdoc />
    public int ColumnCount => _columns;

    /// <summary>Total number of cells (columns × cells per column).</summary>
    public int CellCount => _cellCount;

    /// <summary>Number of live segments.</summary>
    public int SegmentCount => _segmentCount;

    /// <summary>Number of live synapses.</summary>
    public int SynapseCount => _synapseCount;

    /// <summary>Learning iterations so far (steps run with learning on).</summary>
    public int LearningIteration => _lrnIteration;

    /// <summary>Cells active in inference after the last step, in no particular order.</summary>
    public ReadOnlySpan<int> InferenceActiveCells => _infActiveT.Members;

    /// <summary>Cells predicted by inference after the last step (≥ activation threshold connected active synapses), in no particular order.</summary>
    public ReadOnlySpan<int> InferencePredictedCells => _infPredictedT.Members;

    /// <summary>Normalised column confidence of the last step; non-zero marks the columns counted as predicted.</summary>
    public ReadOnlySpan<float> ColumnConfidence
    {
        get
        {
            MaterializeConfidences();
            return _colConfidence;
        }
    }

    /// <summary>Number of segments on <paramref name="cell"/>.</summary>
    public int SegmentsOnCell(int cell) => LiveSegmentsOn(cell);

    /// <summary>
    /// The live segments on <paramref name="cell"/>: its slots less its freed ones (a freed slot stays in the list, at
    /// −1, and on the cell's free stack until reused).
    /// </summary>
    /// <remarks>
    /// Derived instead of kept in a per-cell array: a young model's learning cells lie in nearly every column, so such
    /// an array (256 KB) had most of its pages touched in the first 100 rows, each a page fault, for a count the slot
    /// lists already hold.
    /// </remarks>
    private int LiveSegmentsOn(int cell) => _cellSlots.Count(cell) - (_cellFreeSlots is { } free ? free.Count(cell) : 0);

    /// <inheritdoc />
    public int CountPredicted(ReadOnlySpan<int> activeColumns)
    {
        if (_confidencePending && !_pendingTiny)
        {
            // A column's normalised confidence is its duty cycles' sum over the total. Duty cycles are ≥ 0 and a
            // float sum of non-negative values is 0 only when all are 0, so the column counts iff one of its cells
            // has a positive duty cycle, unless the division underflows: with every duty cycle ≥ TinyDutyCycle
            // (1e-30) and a total far below 1e7 it cannot, so only a tiny one sends this to the exact sums.
            byte[] positive = _cellPositive;
            int cpc = _cellsPerColumn;
            int count = 0;
            for (int i = 0; i < activeColumns.Length; i++)
            {
                count += positive.AsSpan(activeColumns[i] * cpc, cpc).IndexOfAnyExcept((byte)0) >= 0 ? 1 : 0;
            }

            return count;
        }

        MaterializeConfidences();
        float[] conf = _colConfidence;
        int n = 0;
        for (int i = 0; i < activeColumns.Length; i++)
        {
            if (conf[activeColumns[i]] > 0f)
            {
                n++;
            }
        }

        return n;
    }

    /// <summary>
    /// Starts a new sequence: clears every state, the replay histories and the queued updates; the next step
    /// activates start cells in inference and restarts learning on them (NuPIC's <c>reset()</c>).
    /// </summary>
    public void Reset()
    {
        _infActiveT.Clear();
        _infActiveT1.Clear();
        _infPredictedT.Clear();
        _infPredictedT1.Clear();
        _lrnActiveT.Clear();
        _lrnActiveT1.Clear();
        _lrnPredictedT.Clear();
        _lrnPredictedT1.Clear();
        ClearConfidences();
        _infPatterns.Clear();
        _lrnPatterns.Clear();
        ClearUpdates();
        _resetCalled = true;
    }

    /// <inheritdoc />
    public void Compute(ReadOnlySpan<int> activeColumns, bool learn)
    {
        for (int i = 0; i < activeColumns.Length; i++)
        {
            if ((uint)activeColumns[i] >= (uint)_columns || (i > 0 && activeColumns[i] <= activeColumns[i - 1]))
            {
                ThrowBadColumns();
            }
        }

        if (learn)
        {
            _lrnIteration++;
            if (Array.IndexOf(s_dutyCycleTiers, _lrnIteration) >= 0)
            {
                RefreshAllDutyCycles();
            }
        }

        if (!_haveAvgInputDensity)
        {
            _avgInputDensity = activeColumns.Length;
            _haveAvgInputDensity = true;
        }
        else
        {
            _avgInputDensity = (0.99 * _avgInputDensity) + (0.01 * activeColumns.Length);
        }

        UpdateInferenceState(activeColumns);
        if (learn)
        {
            UpdateLearningState(activeColumns);
        }

        _resetCalled = false;
    }

    private static ulong CheckedSeed(BacktrackingTmParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.Validate();
        return parameters.Seed;
    }

    private static void ThrowBadColumns() =>
        throw new ArgumentException("Active columns must be sorted, distinct and inside [0, ColumnCount).", "activeColumns");

    // ---------------------------------------------------------------- duty cycles

    /// <summary>Segment duty cycle exactly as Cells4/backtracking_tm compute it (cached unless read-only).</summary>
    private float DutyCycle(int seg, bool active, bool readOnly)
    {
        int iteration = _lrnIteration;
        bool early = iteration <= s_dutyCycleTiers[1];
        return DutyCycle(seg, ref _seg[seg], iteration, early, early ? 0.0 : PrepareDecay(iteration), active, readOnly);
    }

    /// <summary>
    /// <see cref="DutyCycle(int, bool, bool)"/> with the iteration, its tier and its rate (<see cref="PrepareDecay"/>)
    /// given: inference phase 2 refreshes thousands of segments per call in an old model and hoists them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float DutyCycle(int seg, ref SegmentState state, int iteration, bool early, double alpha, bool active, bool readOnly)
    {
        float dc;
        if (early)
        {
            dc = (float)_segPositive[seg] / iteration;
        }
        else
        {
            int age = iteration - state.LastDcIteration;
            if (age == 0 && !active)
            {
                return state.LastDc;
            }

            // float32 storage as Cells4 keeps it; the decay factor is computed in double (tabulated: same value).
            dc = (float)(DecayFactor(alpha, age) * state.LastDc);
            if (active)
            {
                dc += (float)alpha;
            }
        }

        if (!readOnly)
        {
            state.LastDcIteration = iteration;
            state.LastDc = dc;
        }

        return dc;
    }

    /// <summary>The learning rate of the duty-cycle tier that <paramref name="iteration"/> falls in.</summary>
    private static double TierAlpha(int iteration)
    {
        for (int tier = s_dutyCycleTiers.Length - 1; tier > 0; tier--)
        {
            if (iteration > s_dutyCycleTiers[tier])
            {
                return s_dutyCycleAlphas[tier];
            }
        }

        return 0.0;
    }

    /// <summary>
    /// The learning rate of <paramref name="iteration"/>'s tier (past the first tier), with the decay table made to
    /// hold that rate's factors: <see cref="DecayFactor"/> must only be called with the rate this returned last.
    /// </summary>
    private double PrepareDecay(int iteration)
    {
        if (iteration != _alphaIteration)
        {
            _alpha = TierAlpha(iteration);
            _alphaIteration = iteration;
        }

        if (_alpha != _decayAlpha)
        {
            Array.Clear(_decayTable);
            _decayAlpha = _alpha;
        }

        return _alpha;
    }

    /// <summary>
    /// Math.Pow(1 − alpha, age) for the rate <see cref="PrepareDecay"/> returned, memoised for small ages; Math.Pow is
    /// deterministic, so a stored result is the very value a fresh call returns.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private double DecayFactor(double alpha, int age)
    {
        double f = (uint)age < DecayTableSize ? _decayTable[age] : 0.0;
        return f != 0.0 ? f : ComputeDecayFactor(alpha, age);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private double ComputeDecayFactor(double alpha, int age)
    {
        double f = Math.Pow(1.0 - alpha, age);
        if ((uint)age < DecayTableSize)
        {
            _decayTable[age] = f;
        }

        return f;
    }

    private void RefreshAllDutyCycles()
    {
        for (int seg = 0; seg < _segHigh; seg++)
        {
            if (_seg[seg].Cell >= 0)
            {
                DutyCycle(seg, active: false, readOnly: false);
            }
        }
    }

    // ---------------------------------------------------------------- activity counting


    /// <summary>
    /// Counts, for every segment, its synapses (connected or not) whose source is in <paramref name="cells"/>, and
    /// lists the segments whose count reaches <paramref name="threshold"/> (in no particular order).
    /// </summary>
    private void ComputeActivity(ReadOnlySpan<int> cells, int threshold)
    {
        ushort[] activity = _activity;
        int[] touched = _touchedSegs;
        if (_touchedCount < 0 || _touchedCount * 16 > _segHigh)
        {
            // Many counters are set (or were not listed): one contiguous clear is cheaper than scattered stores.
            Array.Clear(activity, 0, _segHigh);
        }
        else
        {
            for (int i = 0; i < _touchedCount; i++)
            {
                activity[touched[i]] = 0;
            }
        }

        // In the listed path below a segment qualifies when its count steps onto the threshold, which happens exactly
        // once per count: that spares a second pass over every touched segment. A threshold ≤ 0 admits every
        // touched segment.
        int onto = Math.Max(threshold, 1);

        // Listing the touched segments costs a store per increment and a scattered clear later, while the contiguous
        // clear costs about a byte per segment at memset speed: below one increment per 32 segments listing wins.
        long increments = 0;
        for (int i = 0; i < cells.Length; i++)
        {
            increments += _outSynapses.Count(cells[i]);
        }

        ref ushort act = ref MemoryMarshal.GetArrayDataReference(activity);
        ref int qual = ref MemoryMarshal.GetArrayDataReference(_qualSegs);
        int qualified = 0;
        if (increments * 32 > _segHigh)
        {
            // Only counted here; the segments at or above the threshold are then found by a vectorised scan of the
            // counters, far cheaper than listing candidates at every increment. They come out in id order instead
            // of the order they reached the threshold, which no caller depends on (CollectQualified sorts them).
            for (int i = 0; i < cells.Length; i++)
            {
                // The next cell's list is asked for while this one is counted (Core README, item 30).
                if (i + 1 < cells.Length)
                {
                    _outSynapses.Prefetch(cells[i + 1]);
                }

                CountOutList(ref act, _outSynapses.Get(cells[i]));
            }

            _touchedCount = -1;
            _qualSegCount = ActivityKernels.ScanAtLeast(activity.AsSpan(0, _segHigh), onto, _qualSegs);
            return;
        }

        // Branch-free scatter: every segment id is written at the end of the touched and qualified lists, which
        // only advance on a first touch or on reaching the threshold (each list has one spare entry for that write).
        ref int tch = ref MemoryMarshal.GetArrayDataReference(touched);
        int count = 0;
        for (int i = 0; i < cells.Length; i++)
        {
            Span<int> outs = _outSynapses.Get(cells[i]);
            ref int o = ref MemoryMarshal.GetReference(outs);
            for (int k = 0; k < outs.Length; k++)
            {
                int link = Unsafe.Add(ref o, k);
                int seg = SegmentOfLink(link);
                ref ushort a = ref Unsafe.Add(ref act, seg);
                int old = a;
                int now = old + (link & LinkIncrementMask);
                a = (ushort)now;
                Unsafe.Add(ref tch, count) = seg;
                count += old == 0 ? 1 : 0;
                Unsafe.Add(ref qual, qualified) = seg;
                qualified += (now & 0xFF) == onto ? 1 : 0;
            }
        }

        _touchedCount = count;
        _qualSegCount = qualified;
    }

    /// <summary>
    /// Counts every link in <paramref name="outs"/> into its segment's counter: one in the low byte, and one in the
    /// high byte when the link's tag says the synapse is connected (the link carries that increment, see Link).
    /// </summary>
    /// <remarks>
    /// Unrolled by four to cut the loop overhead of the hottest loop of the TM; each increment still reads its counter
    /// after the previous one was written, so the result is that of the plain loop whatever the ids.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CountOutList(ref ushort act, Span<int> outs)
    {
        // A moving reference instead of an index: the JIT otherwise recomputes and sign-extends k + 1, k + 2, k + 3
        // for every load, which cost a quarter of the loop in a micro-benchmark of this kernel.
        ref int o = ref MemoryMarshal.GetReference(outs);
        ref int unrolledEnd = ref Unsafe.Add(ref o, outs.Length & ~3);
        ref int end = ref Unsafe.Add(ref o, outs.Length);
        while (Unsafe.IsAddressLessThan(ref o, ref unrolledEnd))
        {
            uint l0 = (uint)o;
            uint l1 = (uint)Unsafe.Add(ref o, 1);
            uint l2 = (uint)Unsafe.Add(ref o, 2);
            uint l3 = (uint)Unsafe.Add(ref o, 3);
            Unsafe.Add(ref act, (nuint)(l0 >> LinkShift)) += (ushort)(l0 & LinkIncrementMask);
            Unsafe.Add(ref act, (nuint)(l1 >> LinkShift)) += (ushort)(l1 & LinkIncrementMask);
            Unsafe.Add(ref act, (nuint)(l2 >> LinkShift)) += (ushort)(l2 & LinkIncrementMask);
            Unsafe.Add(ref act, (nuint)(l3 >> LinkShift)) += (ushort)(l3 & LinkIncrementMask);
            o = ref Unsafe.Add(ref o, 4);
        }

        while (Unsafe.IsAddressLessThan(ref o, ref end))
        {
            uint l = (uint)o;
            Unsafe.Add(ref act, (nuint)(l >> LinkShift)) += (ushort)(l & LinkIncrementMask);
            o = ref Unsafe.Add(ref o, 1);
        }
    }

    /// <summary>
    /// The forward-index entry of a synapse on <paramref name="seg"/>: the id above <see cref="LinkShift"/> bits that
    /// hold the synapse's increment of the segment's counter — 1 for an active synapse, plus 256 when connected.
    /// </summary>
    /// <remarks>Counting then costs a shift and a mask per entry. Ids stay below 2^23 (checked at construction).</remarks>
    private static int Link(int seg, bool connected) => (int)(((uint)seg << LinkShift) | (connected ? 257u : 1u));

    /// <summary>
    /// The column of <paramref name="cell"/>: a shift for the usual power-of-two cells per column, since the divisor is
    /// a field the JIT cannot fold and a hardware division in the learning loops cost more than the loops' bodies.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int ColumnOf(int cell) => _columnShift >= 0 ? cell >> _columnShift : cell / _cellsPerColumn;

    /// <summary>The segment of a forward-index entry.</summary>
    private static int SegmentOfLink(int link) => (int)((uint)link >> LinkShift);

    /// <summary>Whether a forward-index entry is tagged connected.</summary>
    private static bool IsConnectedLink(int link) => (link & 256) != 0;

    /// <summary>Active synapses of <paramref name="seg"/> counted by the last <see cref="ComputeActivity"/>.</summary>
    private int ActivityOf(int seg) => _activity[seg] & 0xFF;

    /// <summary>Marks the cells owning a segment that reached the threshold of the last count.</summary>
    private void MarkCells()
    {
        for (int i = 0; i < _markedCount; i++)
        {
            _cellMark[_markedCells[i]] = 0;
        }

        if (_markedCells.Length < _qualSegCount)
        {
            // At most one marked cell per qualified segment; the old entries were cleared above.
            _markedCells = new int[Math.Min(_cellCount, Math.Max(_qualSegCount, _markedCells.Length * 2))];
        }

        int n = 0;
        int[] qual = _qualSegs;
        for (int i = 0; i < _qualSegCount; i++)
        {
            int cell = _seg[qual[i]].Cell;
            if (_cellMark[cell] == 0)
            {
                _cellMark[cell] = 1;
                _markedCells[n++] = cell;
            }
        }

        _markedCount = n;
    }

    /// <summary>
    /// Lists the segments that reached the threshold of the last count as (cell, slot) keys sorted ascending: the
    /// order a walk over the cells and their slots would visit them in.
    /// </summary>
    /// <remarks>
    /// A bucket sort instead of a comparison sort (which cost more than the rest of this method, mostly in
    /// mispredicted branches): each segment joins its cell's short list, kept in slot order by insertion, and the
    /// cell is marked in a two-level bitmap; walking the set bits visits the cells in ascending order. The walk
    /// clears the marks and the list heads, so the next call starts clean.
    /// </remarks>
    private void CollectQualified()
    {
        int[] qual = _qualSegs;
        int n = _qualSegCount;
        _qualCount = n;
        if (n == 0)
        {
            return;
        }

        SegmentState[] segs = _seg;
        int[] head = _qualHead;
        int[] next = _qualNext;
        ulong[] bits = _qualCellBits;
        ulong[] words = _qualCellWords;
        for (int i = 0; i < n; i++)
        {
            int seg = qual[i];
            int cell = segs[seg].Cell;
            int slot = segs[seg].Slot;
            int h = head[cell];
            if (h < 0)
            {
                head[cell] = i;
                next[i] = -1;
                bits[cell >> 6] |= 1UL << cell;
                words[cell >> 12] |= 1UL << (cell >> 6);
            }
            else if (slot < segs[qual[h]].Slot)
            {
                next[i] = h;
                head[cell] = i;
            }
            else
            {
                int p = h;
                while (next[p] >= 0 && segs[qual[next[p]]].Slot < slot)
                {
                    p = next[p];
                }

                next[i] = next[p];
                next[p] = i;
            }
        }

        int[] sorted = _qualSorted;
        long[] keys = _qualKeys;
        int w = 0;
        for (int wi = 0; wi < words.Length; wi++)
        {
            ulong word = words[wi];
            if (word == 0)
            {
                continue;
            }

            words[wi] = 0;
            while (word != 0)
            {
                int bi = (wi << 6) + BitOperations.TrailingZeroCount(word);
                word &= word - 1;
                ulong cellBits = bits[bi];
                bits[bi] = 0;
                while (cellBits != 0)
                {
                    int cell = (bi << 6) + BitOperations.TrailingZeroCount(cellBits);
                    cellBits &= cellBits - 1;
                    for (int p = head[cell]; p >= 0; p = next[p])
                    {
                        int seg = qual[p];
                        sorted[w] = seg;
                        keys[w] = ((long)cell << 32) | (uint)segs[seg].Slot;
                        w++;
                    }

                    head[cell] = -1;
                }
            }
        }

        // The sorted list becomes the qualified list; the old one is the next call's output buffer.
        _qualSorted = qual;
        _qualSegs = sorted;
    }

    /// <summary>
    /// Hints the CPU to fetch the first synapses of <paramref name="seg"/> (sources and permanences): inference reads
    /// the synapses of segments scattered over the whole store, and these misses dominated its checks; learning
    /// updates and applies such segments too.
    /// </summary>
    /// <remarks>A prefetch never faults and changes no value; on other platforms this does nothing.</remarks>
    private unsafe void PrefetchSynapses(int seg)
    {
        if (Sse.IsSupported)
        {
            // A segment of more than 16 synapses spans two 64-byte lines of each array (the NAB cap is 32), so both are
            // fetched; the stride is at least 32 entries (see the constructor), so the second line is the segment's own.
            int start = seg * _maxSyn;
            ref int sources = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_synSource), start);
            ref float permanences = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_synPerm), start);
            Sse.Prefetch0(Unsafe.AsPointer(ref sources));
            Sse.Prefetch0(Unsafe.AsPointer(ref permanences));
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref sources, 16)));
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref permanences, 16)));
        }
    }

    /// <summary>
    /// Whether <paramref name="seg"/> has at least <paramref name="threshold"/> active connected synapses against
    /// <paramref name="state"/>.
    /// </summary>
    private bool ConnectedActiveReaches(int seg, CellSet state, int threshold)
    {
        // Counting every synapse without branches beats stopping early: whether a synapse is active and connected
        // is unpredictable, and a segment holds few synapses. A float compare compiled to a branch here, so the
        // permanences are compared as integers: stored permanences lie in (0, 1], where the IEEE bit patterns of
        // non-negative floats order as the values do, and (c − 1 − p) >>> 31 is 1 exactly when p ≥ c.
        int start = seg * _maxSyn;
        int count = _segSynCount[seg];
        int connected = BitConverter.SingleToInt32Bits(_p.ConnectedPermanence) - 1;
        ref int src = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_synSource), start);
        ref int perm = ref Unsafe.As<float, int>(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_synPerm), start));
        ref byte flags = ref MemoryMarshal.GetArrayDataReference(state.Flags);
        int n = 0;
        for (int k = 0; k < count; k++)
        {
            int on = Unsafe.Add(ref flags, Unsafe.Add(ref src, k)) != 0 ? 1 : 0;
            n += on & (int)((uint)(connected - Unsafe.Add(ref perm, k)) >> 31);
        }

        return n >= threshold;
    }

    /// <summary>Makes the confidence lists hold at least <paramref name="count"/> cells (doubling, at most all cells).</summary>
    private void EnsureConfCellCapacity(int count)
    {
        if (_confCells.Length < count)
        {
            int size = Math.Min(_cellCount, Math.Max(count, _confCells.Length * 2));
            Array.Resize(ref _confCells, size);
            Array.Resize(ref _confCellValues, size);
        }
    }

    /// <summary>The cells' stacks of freed slots, created on first use (see <see cref="_cellFreeSlots"/>).</summary>
    private IntListPool FreeSlots() => _cellFreeSlots ??= new IntListPool(_cellCount, InitialCellListCapacity);

    private void ClearConfidences()
    {
        for (int i = 0; i < _pendingCount; i++)
        {
            _cellPositive[(int)(_pendingKeys[i] >> 32)] = 0;
        }

        _pendingCount = 0;
        _confidencePending = false;
        for (int i = 0; i < _confColCount; i++)
        {
            _colConfidence[_confCols[i]] = 0f;
        }

        _confCellCount = 0;
        _confColCount = 0;
    }

    /// <summary>
    /// The per-segment fields read for every segment that reaches a threshold — its cell and slot (the confidence
    /// keys, the learning order) and its duty cycle's last refresh — kept in one 16-byte record: a model that has
    /// learnt for a while qualifies thousands of segments per step, and four separate arrays cost four cache misses
    /// per segment where one record costs one.
    /// </summary>
    private struct SegmentState
    {
        /// <summary>The owning cell, −1 for a freed id.</summary>
        public int Cell;

        /// <summary>The segment's slot in its cell's list.</summary>
        public int Slot;

        /// <summary>The learning iteration of the duty cycle's last refresh.</summary>
        public int LastDcIteration;

        /// <summary>The duty cycle at that refresh (float32, as Cells4 stores it).</summary>
        public float LastDc;
    }
}
