using System.Numerics;
using System.Runtime.InteropServices;
using HtmEngine.Core.Checkpoints;
using HtmEngine.Core.Randomness;
using HtmEngine.Core.Sdr;

namespace HtmEngine.Core.SpatialPooling;

/// <summary>
/// NuPIC 1.0's spatial pooler with global inhibition (htm-algorithm.md §2.4), laid out for speed: connected synapses
/// as a bit-packed matrix (one row of <c>ceil(inputs/64)</c> words per column) so overlaps are AND + POPCNT, dense
/// float32 permanences per column (zeros outside the potential pool, which is a second bit matrix), winners by a
/// histogram over the small integer overlaps with ties to the higher column index, and vectorised learning.
/// Initialisation consumes NuPIC's generator in NuPIC's order, and all permanence arithmetic is float32 in NuPIC's
/// order of operations.
/// </summary>
/// <remarks>
/// <para>Not thread-safe. <see cref="Compute"/> allocates only the first time learning changes a column (below).</para>
/// <para>Every pooler with the same parameters starts from the same state: the seed is a parameter, not per metric.
/// So the initial state is drawn once per parameter set and process (a template, ~30 ms of the generator) and a new
/// pooler shares the template's potential pools (never written after initialisation) and its per-column permanence
/// rows, copy on write: a column gets a row of its own the first time learning changes it. A young model has changed
/// a few hundred of its 2,048 columns, so it holds a few hundred rows instead of 3.8 MB, and building a model costs a
/// copy of the small connected matrices instead of the generator's draws. Outputs and checkpoints are the same bytes
/// as with private storage (the template is computed by the same code, in the same generator order).</para>
/// </remarks>
public sealed class SpatialPooler
{
    private const int FormatTag = 0x4C4F4F50; // "POOL"
    private const int FormatVersion = 1;
    private const int UpdatePeriod = 50;
    private const float InitConnectedPct = 0.5f;
    private const float PermanenceEpsilon = 0.000001f;

    private readonly int _columns;
    private readonly int _inputWidth;
    private readonly int _words;
    private readonly int _stride;
    private readonly int _numDesired;
    private readonly int _minEligibleOverlap;
    private readonly float _activeInc;
    private readonly float _inactiveDec;
    private readonly float _belowStimulusInc;
    private readonly float _trimThreshold;
    private readonly float _connectedThreshold;
    private readonly float _minPctOverlapDutyCycle;
    private readonly int _dutyCyclePeriod;
    private readonly float _stimulusThreshold;

    private readonly float[][] _rows;        // per column: _stride permanences; the template's row until owned
    private readonly bool[] _ownsRow;        // per column: _rows[c] is this pooler's own (writable) row
    private int _ownedRowCount;
    private ulong[] _potential;              // _columns × _words; the template's (read-only) when it matches
    private readonly ulong[] _connected;     // _columns × _words
    private readonly int[] _connectedCounts;
    private readonly float[] _overlapDutyCycles;
    private readonly float[] _activeDutyCycles;

    // Per-step scratch.
    private readonly ulong[] _input;
    private readonly int[] _overlaps;
    private readonly int[] _histogram;
    private readonly float[] _delta;
    private readonly float[] _bumpDelta;
    private readonly float[] _zeroDelta;
    private readonly float[] _indicator;

    // Transposed connected matrix (one row of column bits per input) and the bit-sliced overlap planes.
    private readonly int _columnWords;
    private readonly ulong[] _transposed;    // _inputWidth × _columnWords
    private readonly ulong[] _planes;        // BitSlicedOverlap.Planes × _columnWords
    private readonly ulong[] _validColumns;
    private readonly ulong[] _winnerMask;
    private readonly ulong[] _maskScratch;
    private readonly int[] _activeInputs;
    private bool _overlapsInPlanes;

    private float _minOverlapDutyCycle;
    private int _iteration;
    private int _learnIteration;

    // Initial states by parameter set (see the remarks); a handful of sets exist, the bound only guards against misuse.
    private const int MaxTemplates = 8;
    private static readonly Dictionary<SpatialPoolerParameters, SpatialPooler> s_templates = [];
    private static readonly Lock s_templateLock = new();

    /// <summary>Creates and initialises a pooler; the potential pools and permanences are drawn from <c>Seed</c>.</summary>
    public SpatialPooler(SpatialPoolerParameters parameters)
        : this(parameters, TemplateFor(parameters))
    {
    }

    /// <summary>A pooler that starts in <paramref name="template"/>'s initial state, sharing its rows and pools.</summary>
    private SpatialPooler(SpatialPoolerParameters parameters, SpatialPooler template)
        : this(parameters, initialise: false, ownStorage: false)
    {
        _potential = template._potential;
        template._rows.CopyTo(_rows, 0);
        template._connected.CopyTo(_connected, 0);
        template._connectedCounts.CopyTo(_connectedCounts, 0);
        template._transposed.CopyTo(_transposed, 0);
    }

    /// <param name="parameters">The parameters.</param>
    /// <param name="initialise">Draw the initial state (a template); else the state is filled in by the caller.</param>
    /// <param name="ownStorage">Allocate a row per column and the potential pools (templates); else the caller assigns them.</param>
    private SpatialPooler(SpatialPoolerParameters parameters, bool initialise, bool ownStorage)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.Validate();
        Parameters = parameters;
        _columns = parameters.ColumnCount;
        _inputWidth = parameters.InputWidth;
        _words = BitKernels.WordCount(_inputWidth);
        _stride = (_inputWidth + PoolerKernels.RowAlignment - 1) / PoolerKernels.RowAlignment * PoolerKernels.RowAlignment;
        _activeInc = parameters.SynPermActiveInc;
        _inactiveDec = parameters.SynPermInactiveDec;
        _belowStimulusInc = parameters.SynPermBelowStimulusInc;
        _trimThreshold = parameters.SynPermTrimThreshold;
        _connectedThreshold = parameters.SynPermConnected - PermanenceEpsilon;
        _minPctOverlapDutyCycle = parameters.MinPctOverlapDutyCycle;
        _dutyCyclePeriod = parameters.DutyCyclePeriod;
        _stimulusThreshold = parameters.StimulusThreshold;
        _minEligibleOverlap = (int)MathF.Ceiling(_stimulusThreshold);

        // Global inhibition: the inhibition area is the whole layer; density capped at 0.5 (NuPIC, float32).
        float density = Math.Min(0.5f, parameters.NumActiveColumnsPerInhArea / (float)_columns);
        _numDesired = (int)(density * _columns);

        if ((long)_columns * _stride > int.MaxValue)
        {
            throw new ArgumentException("Too many synapses.", nameof(parameters));
        }

        _rows = new float[_columns][];
        _ownsRow = new bool[_columns];
        _potential = [];
        if (ownStorage)
        {
            for (int c = 0; c < _columns; c++)
            {
                _rows[c] = new float[_stride];
            }

            _ownsRow.AsSpan().Fill(true);
            _ownedRowCount = _columns;
            _potential = new ulong[_columns * _words];
        }

        _connected = new ulong[_columns * _words];
        _connectedCounts = new int[_columns];
        _overlapDutyCycles = new float[_columns];
        _activeDutyCycles = new float[_columns];
        _input = new ulong[_words];
        _overlaps = new int[_columns];
        _histogram = new int[(_inputWidth + 1) * 4];
        _delta = new float[_stride];
        _bumpDelta = new float[_stride];
        Array.Fill(_bumpDelta, _belowStimulusInc);
        _zeroDelta = new float[_stride];
        _indicator = new float[_columns];
        _columnWords = (BitKernels.WordCount(_columns) + 3) & ~3;
        _transposed = new ulong[_inputWidth * _columnWords];
        _planes = new ulong[BitSlicedOverlap.Planes * _columnWords];
        _validColumns = new ulong[_columnWords];
        for (int c = 0; c < _columns; c++)
        {
            BitKernels.SetBit(_validColumns, c);
        }

        _winnerMask = new ulong[_columnWords];
        _maskScratch = new ulong[_columnWords];
        _activeInputs = new int[_inputWidth];
        if (initialise)
        {
            Initialise(parameters);
        }
    }

    /// <summary>The parameters the pooler was created with.</summary>
    public SpatialPoolerParameters Parameters { get; }

    /// <summary>Number of columns.</summary>
    public int ColumnCount => _columns;

    /// <summary>Input width in bits.</summary>
    public int InputWidth => _inputWidth;

    /// <summary>Words of packed input that <see cref="Compute"/> reads.</summary>
    public int InputWordCount => _words;

    /// <summary>Columns active after each step: floor(min(0.5, numActive / columns) × columns), 40 for NAB.</summary>
    public int ActiveColumnCount => _numDesired;

    /// <summary>Steps computed so far (learning or not).</summary>
    public int Iteration => _iteration;

    /// <summary>
    /// Columns whose permanence row this pooler holds itself (changed by learning, or loaded different from the
    /// initial state); the others share the parameter set's initial rows. For memory estimates: see <see cref="RowBytes"/>.
    /// </summary>
    public int OwnedRowCount => _ownedRowCount;

    /// <summary>Bytes of one column's permanence row (its array included).</summary>
    public int RowBytes => (_stride * sizeof(float)) + 24;

    /// <summary>
    /// One step: overlaps, global inhibition, and (when <paramref name="learn"/>) learning, duty cycles, weak-column
    /// bumps and, every 50 steps, the minimum duty cycle. Writes the active columns in ascending order and returns
    /// their number (<see cref="ActiveColumnCount"/>, fewer only if fewer columns reach the stimulus threshold).
    /// </summary>
    /// <param name="inputBits">The input, packed 64 bits a word; at least <see cref="InputWordCount"/> words. Bits at or above <see cref="InputWidth"/> are ignored.</param>
    /// <param name="learn">Whether to learn.</param>
    /// <param name="activeColumns">Receives the active columns; at least <see cref="ActiveColumnCount"/> long.</param>
    public int Compute(ReadOnlySpan<ulong> inputBits, bool learn, Span<int> activeColumns)
    {
        if (inputBits.Length < _words)
        {
            throw new ArgumentException($"The input needs {_words} words.", nameof(inputBits));
        }

        if (activeColumns.Length < _numDesired)
        {
            throw new ArgumentException($"The output needs room for {_numDesired} columns.", nameof(activeColumns));
        }

        Span<ulong> input = _input;
        inputBits[.._words].CopyTo(input);
        int tailBits = _inputWidth & 63;
        if (tailBits != 0)
        {
            input[_words - 1] &= (1UL << tailBits) - 1;
        }

        _iteration++;
        if (learn)
        {
            _learnIteration++;
        }

        int active;
        int activeInputs = BitKernels.GetSetBits(input, _activeInputs);
        if (BitKernels.UseVector256 && activeInputs <= BitSlicedOverlap.MaxCount)
        {
            // Sparse input: add the transposed rows of the active inputs into bit planes, select on the planes.
            BitSlicedOverlap.Accumulate(_transposed, _columnWords, _activeInputs.AsSpan(0, activeInputs), _planes);
            BitSlicedOverlap.SelectWinners(_planes, _columnWords, _numDesired, _minEligibleOverlap, activeInputs, _validColumns, _winnerMask, _maskScratch);
            active = BitKernels.GetSetBits(_winnerMask, activeColumns);
            _overlapsInPlanes = true;
        }
        else
        {
            // Reference path: AND + POPCNT over every connected row, then a histogram.
            BitKernels.AndPopCountRows(input, _connected, _overlaps);
            active = InhibitColumns(activeColumns);
            _overlapsInPlanes = false;
        }

        if (learn)
        {
            Learn(activeColumns[..active]);
        }

        return active;
    }

    /// <summary>
    /// Global inhibition: the <see cref="ActiveColumnCount"/> largest overlaps among columns at or above the stimulus
    /// threshold, equal overlaps going to the higher column index; output ascending.
    /// </summary>
    private int InhibitColumns(Span<int> output)
    {
        int[] overlaps = _overlaps;
        Span<int> histogram = _histogram;
        histogram.Clear();
        int maxValue = _inputWidth;

        // Four interleaved histograms so that runs of equal overlaps do not serialise on one counter.
        int c = 0;
        for (; c <= _columns - 4; c += 4)
        {
            histogram[overlaps[c] << 2]++;
            histogram[(overlaps[c + 1] << 2) + 1]++;
            histogram[(overlaps[c + 2] << 2) + 2]++;
            histogram[(overlaps[c + 3] << 2) + 3]++;
        }

        for (; c < _columns; c++)
        {
            histogram[overlaps[c] << 2]++;
        }

        int remaining = _numDesired;
        int threshold = -1;
        for (int v = maxValue; v >= _minEligibleOverlap; v--)
        {
            int atV = histogram[v << 2] + histogram[(v << 2) + 1] + histogram[(v << 2) + 2] + histogram[(v << 2) + 3];
            if (atV >= remaining)
            {
                threshold = v;
                break;
            }

            remaining -= atV;
        }

        if (threshold < 0)
        {
            // Fewer eligible columns than wanted: all of them win.
            return PoolerKernels.AppendAtLeast(overlaps, 0, _columns, _minEligibleOverlap, output, 0);
        }

        // `remaining` columns with overlap == threshold win, the highest indices first.
        int cutoff = _columns;
        while (remaining > 0)
        {
            cutoff--;
            if (overlaps[cutoff] == threshold)
            {
                remaining--;
            }
        }

        int count = PoolerKernels.AppendAtLeast(overlaps, 0, cutoff, threshold + 1, output, 0);
        return PoolerKernels.AppendAtLeast(overlaps, cutoff, _columns, threshold, output, count);
    }

    private void Learn(ReadOnlySpan<int> winners)
    {
        // Adapt the winners' synapses (NuPIC's adaptSynapses_).
        PoolerKernels.BuildDelta(_input, _activeInc, _inactiveDec, _delta);
        for (int i = 0; i < winners.Length; i++)
        {
            UpdateColumn(winners[i], _delta, raise: true);
        }

        // Duty cycles over min(period, iteration) steps.
        int period = Math.Min(_dutyCyclePeriod, _iteration);
        if (_overlapsInPlanes)
        {
            // The bit-sliced path has both sets as column bit masks already: the columns with input from the planes,
            // the winners from the selection.
            BitSlicedOverlap.Positive(_planes, _columnWords, _validColumns, _maskScratch);
            PoolerKernels.UpdateDutyCyclesFromBits(_overlapDutyCycles, _maskScratch, period);
            PoolerKernels.UpdateDutyCyclesFromBits(_activeDutyCycles, _winnerMask, period);
        }
        else
        {
            PoolerKernels.PositiveIndicator(_overlaps, _indicator);
            PoolerKernels.UpdateDutyCycles(_overlapDutyCycles, _indicator, period);
            Array.Clear(_indicator);
            for (int i = 0; i < winners.Length; i++)
            {
                _indicator[winners[i]] = 1f;
            }

            PoolerKernels.UpdateDutyCycles(_activeDutyCycles, _indicator, period);
            for (int i = 0; i < winners.Length; i++)
            {
                _indicator[winners[i]] = 0f;
            }
        }

        // Weak columns: every potential synapse +belowStimulusInc.
        // Rarely any column is weak, so they are found by a vectorised search instead of a compare per column (2,048
        // per step, about a third of this method's time): duty cycles are non-negative floats, whose IEEE bits order
        // as integers, so d < minimum is bits(d) ≤ bits(minimum) − 1. A bump does not change the duty cycles.
        float minimum = _minOverlapDutyCycle;
        if (minimum > 0f)
        {
            ReadOnlySpan<int> dutyCycleBits = MemoryMarshal.Cast<float, int>(_overlapDutyCycles);
            int below = BitConverter.SingleToInt32Bits(minimum) - 1;
            int c = 0;
            while (c < dutyCycleBits.Length)
            {
                int found = dutyCycleBits[c..].IndexOfAnyInRange(int.MinValue, below);
                if (found < 0)
                {
                    break;
                }

                UpdateColumn(c + found, _bumpDelta, raise: false);
                c += found + 1;
            }
        }

        // Boost factors are all 1 (boost strength 0). Every 50 steps: the global minimum overlap duty cycle.
        if (_iteration % UpdatePeriod == 0)
        {
            float max = 0f;
            foreach (float d in _overlapDutyCycles)
            {
                max = Math.Max(max, d);
            }

            _minOverlapDutyCycle = _minPctOverlapDutyCycle * max;
        }
    }

    /// <summary>
    /// NuPIC's per-column permanence update: add the change to the potential synapses, raise to the stimulus
    /// threshold if asked, clip to [0, 1], zero below the trim threshold, rebuild the connected row and count.
    /// </summary>
    private void UpdateColumn(int column, float[] delta, bool raise)
    {
        Span<float> row = WritableRow(column);
        ReadOnlySpan<ulong> potential = _potential.AsSpan(column * _words, _words);
        Span<ulong> connected = _connected.AsSpan(column * _words, _words);
        if (raise && _stimulusThreshold > 0)
        {
            AddAndRaiseToThreshold(row, potential, delta);
            delta = _zeroDelta;
        }

        Span<ulong> previous = stackalloc ulong[_words];
        connected.CopyTo(previous);
        _connectedCounts[column] = PoolerKernels.UpdateRow(row, potential, delta, _trimThreshold, _connectedThreshold, connected);
        MirrorChanges(column, previous, connected);
    }

    /// <summary>Mirrors the synapses that crossed the threshold (bits that differ from <paramref name="previous"/>) into the transposed matrix.</summary>
    private void MirrorChanges(int column, ReadOnlySpan<ulong> previous, ReadOnlySpan<ulong> connected)
    {
        ulong columnBit = 1UL << (column & 63);
        int columnWord = column >> 6;
        for (int w = 0; w < previous.Length; w++)
        {
            ulong changed = previous[w] ^ connected[w];
            while (changed != 0)
            {
                int input = (w << 6) + BitOperations.TrailingZeroCount(changed);
                _transposed[(input * _columnWords) + columnWord] ^= columnBit;
                changed &= changed - 1;
            }
        }
    }

    /// <summary>The column's row, first copied from the template if it is still shared (copy on write, see the remarks).</summary>
    private float[] WritableRow(int column)
    {
        float[] row = _rows[column];
        if (!_ownsRow[column])
        {
            row = (float[])row.Clone();
            _rows[column] = row;
            _ownsRow[column] = true;
            _ownedRowCount++;
        }

        return row;
    }

    /// <summary>
    /// The initial state for <paramref name="parameters"/>: drawn once per parameter set and process, then shared
    /// read-only by every pooler built from it. Building it takes the lock (~30 ms once), so two runners needing the
    /// same set do not draw it twice.
    /// </summary>
    private static SpatialPooler TemplateFor(SpatialPoolerParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        lock (s_templateLock)
        {
            if (!s_templates.TryGetValue(parameters, out SpatialPooler? template))
            {
                template = new SpatialPooler(parameters, initialise: true, ownStorage: true);
                if (s_templates.Count >= MaxTemplates)
                {
                    s_templates.Clear();
                }

                s_templates.Add(parameters, template);
            }

            return template;
        }
    }

    /// <summary>Stimulus threshold above zero only: the change, a clip to [0, 1], then +belowStimulusInc until enough synapses connect.</summary>
    private void AddAndRaiseToThreshold(Span<float> row, ReadOnlySpan<ulong> potential, ReadOnlySpan<float> delta)
    {
        for (int j = 0; j < _inputWidth; j++)
        {
            if (BitKernels.TestBit(potential, j))
            {
                row[j] = Math.Clamp(row[j] + delta[j], 0f, 1f);
            }
        }

        int poolSize = BitKernels.PopCount(potential);
        while (true)
        {
            int connected = 0;
            for (int j = 0; j < _inputWidth; j++)
            {
                if (BitKernels.TestBit(potential, j) && row[j] >= _connectedThreshold)
                {
                    connected++;
                }
            }

            // NuPIC loops forever when the pool is smaller than the threshold; stop once every synapse is connected.
            if (connected >= _stimulusThreshold || connected == poolSize)
            {
                return;
            }

            for (int j = 0; j < _inputWidth; j++)
            {
                if (BitKernels.TestBit(potential, j))
                {
                    row[j] += _belowStimulusInc;
                }
            }
        }
    }

    private void Initialise(SpatialPoolerParameters parameters)
    {
        var random = new NupicRandom(parameters.Seed);

        // NuPIC draws a tie-breaker per column; global inhibition never reads them, but the draws advance the stream.
        for (int c = 0; c < _columns; c++)
        {
            random.GetReal64();
        }

        int numPotential = (int)MathF.Round(_inputWidth * parameters.PotentialPct, MidpointRounding.AwayFromZero);
        var candidates = new int[_inputWidth];
        var chosen = new int[numPotential];
        float ratio = _inputWidth / (float)_columns;
        float connectedPermanence = parameters.SynPermConnected;
        for (int c = 0; c < _columns; c++)
        {
            // The column's centre in the input, then every input from the centre upward, wrapping.
            int centre = (int)MathF.Floor((float)((c + 0.5) * ratio));
            for (int k = 0; k < _inputWidth; k++)
            {
                int index = centre + k;
                candidates[k] = index >= _inputWidth ? index - _inputWidth : index;
            }

            NupicSampling.Sample(random, candidates, chosen); // NuPIC's sample draw for draw, without two divisions per draw
            Span<ulong> potential = _potential.AsSpan(c * _words, _words);
            BitKernels.SetBits(potential, chosen);

            Span<float> row = _rows[c];
            for (int i = 0; i < _inputWidth; i++)
            {
                if (!BitKernels.TestBit(potential, i))
                {
                    continue;
                }

                float p = random.GetReal64() <= InitConnectedPct
                    ? connectedPermanence + (float)((1f - connectedPermanence) * random.GetReal64())
                    : connectedPermanence * (float)random.GetReal64();

                // Five decimals, as NuPIC: float32 × 100000, truncated, divided in double, stored as float32.
                p = (float)((int)(p * 100000f) / 100000.0);
                row[i] = p < _trimThreshold ? 0f : p;
            }

            UpdateColumn(c, _zeroDelta, raise: true);
        }
    }

    // ---- Test access -------------------------------------------------------------------------------------------

    /// <summary>The permanences of a column over all inputs (0 outside the potential pool).</summary>
    internal ReadOnlySpan<float> GetPermanences(int column) => _rows[column].AsSpan(0, _inputWidth);

    /// <summary>The potential-pool bit row of a column.</summary>
    internal ReadOnlySpan<ulong> GetPotential(int column) => _potential.AsSpan(column * _words, _words);

    /// <summary>The connected bit row of a column.</summary>
    internal ReadOnlySpan<ulong> GetConnected(int column) => _connected.AsSpan(column * _words, _words);

    /// <summary>Number of connected synapses of a column.</summary>
    internal int GetConnectedCount(int column) => _connectedCounts[column];

    /// <summary>Overlaps of the last step (before its learning).</summary>
    internal ReadOnlySpan<int> Overlaps
    {
        get
        {
            if (_overlapsInPlanes)
            {
                for (int c = 0; c < _columns; c++)
                {
                    _overlaps[c] = BitSlicedOverlap.CountOf(_planes, _columnWords, c);
                }
            }

            return _overlaps;
        }
    }

    /// <summary>Overlap duty cycles.</summary>
    internal ReadOnlySpan<float> OverlapDutyCycles => _overlapDutyCycles;

    /// <summary>Active duty cycles.</summary>
    internal ReadOnlySpan<float> ActiveDutyCycles => _activeDutyCycles;

    /// <summary>The (global) minimum overlap duty cycle below which a column is bumped.</summary>
    internal float MinOverlapDutyCycle => _minOverlapDutyCycle;

    /// <summary>
    /// Replaces a column's permanences on its potential pool (other entries are ignored) and re-derives its connected
    /// row, as a learning update with no change would (tests that need a constructed state).
    /// </summary>
    internal void SetPermanences(int column, ReadOnlySpan<float> permanences)
    {
        Span<float> row = WritableRow(column);
        ReadOnlySpan<ulong> potential = _potential.AsSpan(column * _words, _words);
        for (int i = 0; i < _inputWidth; i++)
        {
            row[i] = BitKernels.TestBit(potential, i) ? permanences[i] : 0f;
        }

        UpdateColumn(column, _zeroDelta, raise: false);
    }

    // ---- Checkpoints -------------------------------------------------------------------------------------------

    /// <summary>Writes the pooler's parameters and complete learned state.</summary>
    public void Save(CheckpointWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        SpatialPoolerParameters p = Parameters;
        writer.WriteInt32(FormatTag);
        writer.WriteInt32(FormatVersion);
        writer.WriteInt32(p.InputWidth);
        writer.WriteInt32(p.ColumnCount);
        writer.WriteSingle(p.PotentialPct);
        writer.WriteBoolean(p.GlobalInhibition);
        writer.WriteInt32(p.NumActiveColumnsPerInhArea);
        writer.WriteSingle(p.StimulusThreshold);
        writer.WriteSingle(p.SynPermActiveInc);
        writer.WriteSingle(p.SynPermInactiveDec);
        writer.WriteSingle(p.SynPermConnected);
        writer.WriteSingle(p.MinPctOverlapDutyCycle);
        writer.WriteInt32(p.DutyCyclePeriod);
        writer.WriteSingle(p.BoostStrength);
        writer.WriteUInt64(p.Seed);
        writer.WriteInt32(_iteration);
        writer.WriteInt32(_learnIteration);
        writer.WriteSingle(_minOverlapDutyCycle);
        writer.WriteSpan<float>(_overlapDutyCycles);
        writer.WriteSpan<float>(_activeDutyCycles);
        writer.WriteSpan<ulong>(_potential);

        // One span of columns × stride floats, as when the rows were one array (the format did not change).
        writer.WriteInt32(_columns * _stride);
        for (int c = 0; c < _columns; c++)
        {
            writer.WriteElements<float>(_rows[c]);
        }
    }

    /// <summary>Reads a pooler written by <see cref="Save"/>; it continues exactly where the saved one stopped.</summary>
    public static SpatialPooler Load(ref CheckpointReader reader)
    {
        if (reader.ReadInt32() != FormatTag || reader.ReadInt32() != FormatVersion)
        {
            throw new CheckpointFormatException("Expected a version-1 spatial pooler record.");
        }

        SpatialPoolerParameters parameters = new()
        {
            InputWidth = reader.ReadInt32(),
            ColumnCount = reader.ReadInt32(),
            PotentialPct = reader.ReadSingle(),
            GlobalInhibition = reader.ReadBoolean(),
            NumActiveColumnsPerInhArea = reader.ReadInt32(),
            StimulusThreshold = reader.ReadSingle(),
            SynPermActiveInc = reader.ReadSingle(),
            SynPermInactiveDec = reader.ReadSingle(),
            SynPermConnected = reader.ReadSingle(),
            MinPctOverlapDutyCycle = reader.ReadSingle(),
            DutyCyclePeriod = reader.ReadInt32(),
            BoostStrength = reader.ReadSingle(),
            Seed = reader.ReadUInt64(),
        };

        SpatialPooler pooler;
        SpatialPooler template;
        try
        {
            template = TemplateFor(parameters);
            pooler = new SpatialPooler(parameters, initialise: false, ownStorage: false);
        }
        catch (ArgumentException e)
        {
            throw new CheckpointFormatException("Spatial pooler parameters in the checkpoint are invalid: " + e.Message, e);
        }

        pooler._iteration = reader.ReadInt32();
        pooler._learnIteration = reader.ReadInt32();
        pooler._minOverlapDutyCycle = reader.ReadSingle();
        reader.ReadSpan<float>(pooler._overlapDutyCycles);
        reader.ReadSpan<float>(pooler._activeDutyCycles);

        // The potential pools never change after initialisation, so a checkpoint of these parameters holds the
        // template's; share them (and then the rows learning never changed) instead of holding copies.
        int poolWords = pooler._columns * pooler._words;
        if (reader.ReadInt32() != poolWords)
        {
            throw new CheckpointFormatException("Spatial pooler potential pools have the wrong size in the checkpoint.");
        }

        ReadOnlySpan<byte> poolBytes = reader.ReadBytes(poolWords * sizeof(ulong));
        bool sharePools = poolBytes.SequenceEqual(MemoryMarshal.AsBytes(template._potential.AsSpan()));
        if (sharePools)
        {
            pooler._potential = template._potential;
        }
        else
        {
            pooler._potential = new ulong[poolWords];
            poolBytes.CopyTo(MemoryMarshal.AsBytes(pooler._potential.AsSpan()));
        }

        int tailBits = pooler._inputWidth & 63;
        if (tailBits != 0)
        {
            for (int c = 0; c < pooler._columns; c++)
            {
                if ((pooler._potential[((c + 1) * pooler._words) - 1] >> tailBits) != 0)
                {
                    throw new CheckpointFormatException("Spatial pooler potential pool reaches past the input width.");
                }
            }
        }

        if (pooler._iteration < 0 || pooler._learnIteration < 0 || pooler._learnIteration > pooler._iteration)
        {
            throw new CheckpointFormatException("Spatial pooler step counters in the checkpoint are invalid.");
        }

        int rowFloats = pooler._stride;
        if (reader.ReadInt32() != pooler._columns * rowFloats)
        {
            throw new CheckpointFormatException("Spatial pooler permanences have the wrong size in the checkpoint.");
        }

        Span<ulong> none = stackalloc ulong[pooler._words];
        none.Clear();
        for (int c = 0; c < pooler._columns; c++)
        {
            ReadOnlySpan<byte> rowBytes = reader.ReadBytes(rowFloats * sizeof(float));
            if (sharePools && rowBytes.SequenceEqual(MemoryMarshal.AsBytes(template._rows[c].AsSpan())))
            {
                // A row learning never changed: the template's, with its connected row (a function of row and pool).
                pooler._rows[c] = template._rows[c];
                Span<ulong> connected = pooler._connected.AsSpan(c * pooler._words, pooler._words);
                template._connected.AsSpan(c * pooler._words, pooler._words).CopyTo(connected);
                pooler._connectedCounts[c] = template._connectedCounts[c];
                pooler.MirrorChanges(c, none, connected);
                continue;
            }

            var own = new float[rowFloats];
            rowBytes.CopyTo(MemoryMarshal.AsBytes(own.AsSpan()));
            pooler._rows[c] = own;
            pooler._ownsRow[c] = true;
            pooler._ownedRowCount++;
            ReadOnlySpan<ulong> potential = pooler._potential.AsSpan(c * pooler._words, pooler._words);
            for (int j = 0; j < own.Length; j++)
            {
                bool inPool = j < pooler._inputWidth && BitKernels.TestBit(potential, j);
                if (!(own[j] >= 0f && own[j] <= 1f) || (!inPool && own[j] != 0f))
                {
                    throw new CheckpointFormatException("Spatial pooler permanence out of range in the checkpoint.");
                }
            }

            // The connected rows are a function of the permanences (≥ connected − ε); rebuild them.
            pooler.UpdateColumn(c, pooler._zeroDelta, raise: false);
        }

        return pooler;
    }
}
