namespace HtmEngine.Core.TemporalMemory;

public sealed partial class BacktrackingTm
{
    private void UpdateInferenceState(ReadOnlySpan<int> activeColumns)
    {
        // The t−1 confidences of Cells4 are never read by this algorithm, so only the t arrays are kept.
        _infActiveT1.CopyFrom(_infActiveT);
        _infPredictedT1.CopyFrom(_infPredictedT);
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
        for (int i = 0; i < activeColumns.Length; i++)
        {
            int first = activeColumns[i] * cpc;
            bool any = false;
            for (int cell = first; cell < first + cpc; cell++)
            {
                if (_infPredictedT1.Contains(cell))
                {
                    _infActiveT.Add(cell);
                    any = true;
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
    private bool InferPhase2()
    {
        _infPredictedT.Clear();
        ClearConfidences();
        int threshold = _p.ActivationThreshold;
        ComputeActivity(_infActiveT.Members, threshold);
        CollectQualified();

        // Same visiting order as a walk over the sorted cells and their slots, so the float sums are identical.
        int cpc = _cellsPerColumn;
        int lastCol = -1;
        int lastCell = -1;
        long[] keys = _qualKeys;
        int[] segs = _qualSegs;
        for (int q = 0; q < _qualCount; q++)
        {
            if (q + PrefetchDistance < _qualCount)
            {
                PrefetchSynapses(segs[q + PrefetchDistance]);
            }

            int cell = (int)(keys[q] >> 32);
            int seg = segs[q];
            int col = cell / cpc;
            float dc = DutyCycle(seg, active: false, readOnly: false);
            _cellConfidence[cell] += dc;
            _colConfidence[col] += dc;
            if (_segConnected[seg] >= threshold && !_infPredictedT.Contains(cell) && ConnectedActiveReaches(seg, _infActiveT, threshold))
            {
                _infPredictedT.Add(cell);
            }

            if (cell != lastCell)
            {
                _confCells[_confCellCount++] = cell;
                lastCell = cell;
                if (col != lastCol)
                {
                    _confCols[_confColCount++] = col;
                    lastCol = col;
                }
            }
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
                _cellConfidence[_confCells[i]] /= sum;
            }
        }

        // Predicted cells were added in ascending cell order, so equal columns are adjacent.
        ReadOnlySpan<int> predicted = _infPredictedT.Members;
        int predictedColumns = 0;
        int previous = -1;
        for (int i = 0; i < predicted.Length; i++)
        {
            int col = predicted[i] / cpc;
            if (col != previous)
            {
                predictedColumns++;
                previous = col;
            }
        }

        return predictedColumns >= 0.5 * _avgInputDensity;
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
