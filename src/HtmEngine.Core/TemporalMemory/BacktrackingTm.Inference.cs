using System.Numerics;
using System.Runtime.Intrinsics;

namespace HtmEngine.Core.TemporalMemory;

public sealed partial class BacktrackingTm
{
    private void UpdateInferenceState(ReadOnlySpan<int> activeColumns)
    {
        // The t−1 confidences of Cells4 are never read by this algorithm, so only the t arrays are kept.
        // t becomes t−1 by swapping the sets instead of copying them: the phases below clear the t sets before they
        // read or fill them (InferPhase1 the active set, InferPhase2 the predicted one; see InferBacktrack for the one
        // path that needs the predicted set back).
        (_infActiveT1, _infActiveT) = (_infActiveT, _infActiveT1);
        (_infPredictedT1, _infPredictedT) = (_infPredictedT, _infPredictedT1);
        if (_p.MaxInfBacktrack > 0)
        {
            if (_infPatterns.Count > _p.MaxInfBacktrack)
            {
                _infPatterns.PopFront(1);
            }

            _infPatterns.Push(activeColumns);
        }

        if (!InferPhase1(activeColumns, _resetCalled))
        {
            InferBacktrack();
            return;
        }

        if (!InferPhase2())
        {
            InferBacktrack();
        }
    }

    /// <summary>
    /// Inference phase 1: active columns turn on their cells predicted at t−1, or burst; with start cells only
    /// cell 0. In sequence iff at least half of the active columns were predicted (always with start cells).
    /// </summary>
    private bool InferPhase1(ReadOnlySpan<int> activeColumns, bool useStartCells)
    {
        _infActiveT.Clear();
        int cpc = _cellsPerColumn;
        if (useStartCells)
        {
            for (int i = 0; i < activeColumns.Length; i++)
            {
                _infActiveT.Add(activeColumns[i] * cpc);
            }

            return true;
        }

        int predictedColumns = 0;
        byte[] predictedFlags = _infPredictedT1.Flags;
        for (int i = 0; i < activeColumns.Length; i++)
        {
            int first = activeColumns[i] * cpc;
            bool any = false;
            if (cpc == Vector256<byte>.Count && Vector256.IsHardwareAccelerated)
            {
                // The usual 32 cells per column: one compare gives the column's predicted cells as a bit mask, instead
                // of 32 flag tests whose outcomes the branch predictor cannot guess.
                uint mask = ~Vector256.Equals(Vector256.LoadUnsafe(ref predictedFlags[first]), Vector256<byte>.Zero).ExtractMostSignificantBits();
                any = mask != 0;
                while (mask != 0)
                {
                    _infActiveT.Add(first + BitOperations.TrailingZeroCount(mask));
                    mask &= mask - 1;
                }
            }
            else
            {
                for (int cell = first; cell < first + cpc; cell++)
                {
                    if (predictedFlags[cell] != 0)
                    {
                        _infActiveT.Add(cell);
                        any = true;
                    }
                }
            }

            if (any)
            {
                predictedColumns++;
            }
            else
            {
                for (int cell = first; cell < first + cpc; cell++)
                {
                    _infActiveT.Add(cell);
                }
            }
        }

        return predictedColumns >= 0.5 * activeColumns.Length;
    }

    /// <summary>
    /// Inference phase 2: every segment with ≥ activationThreshold active synapses (all synapses counted) adds
    /// its duty cycle to its cell's and column's confidence; with as many active connected synapses it predicts
    /// its cell. Confidences are normalised by their sum. In sequence iff the predicted columns reach half the
    /// average input density.
    /// </summary>
    /// <remarks>
    /// The confidences themselves are not summed here: the step needs only which columns have a positive one
    /// (<see cref="CountPredicted"/>), and a backtrack runs this phase many times of which only the last call's
    /// confidences survive. Each call records its qualifying segments' (cell, slot) keys and duty cycles;
    /// <see cref="MaterializeConfidences"/> sums them in Cells4's order (cells ascending, slots ascending) when the
    /// values are asked for, so they are bit for bit what an eager sum gives. The duty cycles are still refreshed
    /// here, in every call, because Cells4 stores each refreshed value and later ones decay from it.
    /// </remarks>
    private bool InferPhase2()
    {
        _infPredictedT.Clear();
        ClearConfidences();
        int threshold = _p.ActivationThreshold;
        ComputeActivity(_infActiveT.Members, threshold);

        int n = _qualSegCount;
        int[] qual = _qualSegs;
        SegmentState[] segs = _seg;
        int[] segConnected = _segConnected;
        int[] segBroken = _segBroken;
        ushort[] activity = _activity;
        long[] keys = _pendingKeys;
        float[] dcs = _pendingDc;
        byte[] positive = _cellPositive;
        byte[] predictedFlags = _infPredictedT.Flags;
        bool tiny = false;
        int iteration = _lrnIteration;
        bool early = iteration <= s_dutyCycleTiers[1];
        double alpha = early ? 0.0 : PrepareDecay(iteration);
        for (int q = 0; q < n; q++)
        {
            int seg = qual[q];
            ref SegmentState state = ref segs[seg];
            int cell = state.Cell;

            float dc = DutyCycle(seg, ref state, iteration, early, alpha, active: false, readOnly: false);
            keys[q] = ((long)cell << 32) | (uint)state.Slot;
            dcs[q] = dc;
            positive[cell] |= dc > 0f ? (byte)1 : (byte)0;
            tiny |= dc < TinyDutyCycle;
            // The high byte counted the active connected synapses through the forward index; a segment that lost
            // links to Cells4's stale-index freeing has synapses the index does not show, so it is counted directly.
            if (predictedFlags[cell] == 0
                && (activity[seg] >> 8 >= threshold
                    || (segBroken[seg] > 0 && segConnected[seg] >= threshold && ConnectedActiveReaches(seg, _infActiveT, threshold))))
            {
                _infPredictedT.Add(cell);
            }
        }

        _pendingCount = n;
        _confidencePending = true;
        _pendingTiny = tiny;

        // Distinct columns of the predicted cells (in no particular order here).
        ReadOnlySpan<int> predicted = _infPredictedT.Members;
        byte[] mark = _predictedColumnMark;
        int predictedColumns = 0;
        for (int i = 0; i < predicted.Length; i++)
        {
            int col = ColumnOf(predicted[i]);
            predictedColumns += mark[col] == 0 ? 1 : 0;
            mark[col] = 1;
        }

        for (int i = 0; i < predicted.Length; i++)
        {
            mark[ColumnOf(predicted[i])] = 0;
        }

        return predictedColumns >= 0.5 * _avgInputDensity;
    }

    /// <summary>
    /// Sums the confidences recorded by the last <see cref="InferPhase2"/> exactly as Cells4 does — per cell and
    /// per column in (cell, slot) order, then normalised by the columns' total — into the confidence arrays.
    /// </summary>
    private void MaterializeConfidences()
    {
        if (!_confidencePending)
        {
            return;
        }

        _confidencePending = false;
        int n = _pendingCount;
        long[] keys = _pendingKeys;
        float[] dcs = _pendingDc;
        Array.Sort(keys, dcs, 0, n);
        EnsureConfCellCapacity(n); // at most one cell per pending key
        float[] cellValues = _confCellValues;
        int lastCol = -1;
        int lastCell = -1;
        for (int q = 0; q < n; q++)
        {
            int cell = (int)(keys[q] >> 32);
            int col = ColumnOf(cell);
            float dc = dcs[q];
            _colConfidence[col] += dc;
            if (cell != lastCell)
            {
                // The keys are in cell order, so a cell's sum is one run of adds starting from 0, as in a dense array.
                cellValues[_confCellCount] = 0f;
                _confCells[_confCellCount++] = cell;
                lastCell = cell;
                if (col != lastCol)
                {
                    _confCols[_confColCount++] = col;
                    lastCol = col;
                }
            }

            cellValues[_confCellCount - 1] += dc;
        }

        float sum = 0f;
        for (int i = 0; i < _confColCount; i++)
        {
            sum += _colConfidence[_confCols[i]];
        }

        if (sum > 0f)
        {
            for (int i = 0; i < _confColCount; i++)
            {
                _colConfidence[_confCols[i]] /= sum;
            }

            for (int i = 0; i < _confCellCount; i++)
            {
                cellValues[i] /= sum;
            }
        }
    }

    /// <summary>
    /// Inference backtrack: replay the stored inputs from each start offset (oldest first) on start cells and
    /// keep the first start that stays in sequence up to now; otherwise fall back to the bursting state.
    /// </summary>
    private void InferBacktrack()
    {
        int n = _infPatterns.Count;
        if (n <= 0)
        {
            // Nothing to replay: the predictions stay those of t−1, as when Cells4 copies t into t−1.
            _infPredictedT.CopyFrom(_infPredictedT1);
            return;
        }

        _backupActive.CopyFrom(_infActiveT);
        _backupPredictedT1.CopyFrom(_infPredictedT1);
        int candidate = -1;
        for (int start = 0; start < n; start++)
        {
            bool inSequence = true;
            for (int offset = start; offset < n; offset++)
            {
                _infPredictedT1.CopyFrom(_infPredictedT);
                inSequence = InferPhase1(_infPatterns[offset], useStartCells: offset == start);
                if (!inSequence)
                {
                    break;
                }

                inSequence = InferPhase2();
                if (!inSequence)
                {
                    break;
                }
            }

            if (inSequence)
            {
                // Cells4 takes the earliest viable start; the state its replay leaves is the candidate's snapshot.
                candidate = start;
                break;
            }
        }

        if (candidate < 0)
        {
            _infActiveT.CopyFrom(_backupActive);
            InferPhase2();
            _infPatterns.PopFront(n);
        }
        else
        {
            // Every start before the candidate failed (bad) and the candidate itself is ≤ the chosen start.
            _infPatterns.PopFront(candidate + 1);
        }

        _infPredictedT1.CopyFrom(_backupPredictedT1);
    }
}
