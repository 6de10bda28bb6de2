using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using HtmEngine.Core.Randomness;

namespace HtmEngine.Core.TemporalMemory;

public sealed partial class BacktrackingTm
{
    /// <summary>Creates a segment on <paramref name="cell"/> with synapses to the sorted <paramref name="sources"/> at initialPerm.</summary>
    private int CreateSegment(int cell, ReadOnlySpan<int> sources)
    {
        if (sources.Length > _synLimit)
        {
            sources = sources[.._synLimit];
        }

        int seg;
        if (_freeSegCount > 0)
        {
            seg = _freeSegIds[--_freeSegCount];
        }
        else
        {
            if (_segHigh == _seg.Length)
            {
                GrowSegments();
            }

            seg = _segHigh++;
            InitFreshSegment(seg);
        }

        // Cells4 reuses the most recently freed slot of the cell before appending a new one.
        int slot;
        IntListPool? freePool = _cellFreeSlots;
        int freeSlots = freePool is null ? 0 : freePool.Count(cell);
        if (freeSlots > 0)
        {
            slot = freePool!.Get(cell)[freeSlots - 1];
            freePool.RemoveLast(cell);
            _cellSlots.Get(cell)[slot] = seg;
        }
        else
        {
            slot = _cellSlots.Count(cell);
            _cellSlots.Add(cell, seg);
        }

        _segmentCount++;
        _seg[seg].Cell = cell;
        _seg[seg].Slot = slot;
        _segPositive[seg] = 1;
        _segTotal[seg] = 1;
        _segLastActive[seg] = _lrnIteration;
        _seg[seg].LastDcIteration = _lrnIteration;
        _seg[seg].LastDc = _lrnIteration > 0 ? 1.0f / _lrnIteration : 1.0f;
        if (sources.Length > _maxSyn)
        {
            WidenSynapseStride();
        }

        int baseIdx = seg * _maxSyn;
        float initial = _p.InitialPermanence;
        int link = Link(seg, initial >= _p.ConnectedPermanence);
        for (int k = 0; k < sources.Length; k++)
        {
            _synSource[baseIdx + k] = sources[k];
            _synPerm[baseIdx + k] = initial;
            _outSynapses.Add(sources[k], link);
        }

        _segSynCount[seg] = sources.Length;
        _segConnected[seg] = initial >= _p.ConnectedPermanence ? sources.Length : 0;
        _synapseCount += sources.Length;
        return seg;
    }

    /// <summary>Frees a segment: its synapses leave the forward index, its slot goes onto the cell's free stack.</summary>
    private void ReleaseSegment(int seg)
    {
        int cell = _seg[seg].Cell;
        int baseIdx = seg * _maxSyn;
        int n = _segSynCount[seg];
        for (int k = 0; k < n; k++)
        {
            RemoveLink(_synSource[baseIdx + k], seg);
        }

        _segBroken[seg] = 0;
        _synapseCount -= n;
        _segSynCount[seg] = 0;
        _segConnected[seg] = 0;
        _cellSlots.Get(cell)[_seg[seg].Slot] = -1;
        FreeSlots().Add(cell, _seg[seg].Slot);
        _segmentCount--;
        _seg[seg].Cell = -1;
        _segGeneration[seg]++;
        _activity[seg] = 0;
        _freeSegIds[_freeSegCount++] = seg;
    }

    /// <summary>
    /// Makes room for more segments. The new arrays are not zeroed (<see cref="Grown{T}"/>): only the entries below the
    /// old length are copied, and every entry of an id at or above <c>_segHigh</c> is written when the id is first
    /// handed out (<see cref="CreateSegment"/> writes the fields it always wrote, <see cref="InitFreshSegment"/> the
    /// ones a zeroed array gave it), and the scratch lists are only read below their counts.
    /// </summary>
    /// <remarks>
    /// A learning model outgrows its storage every few hundred segments while young: zeroing the new arrays was ~40 %
    /// of a growth's cost (the synapse blocks are 512 bytes per segment, of which a young segment uses ~80–160), and
    /// the zeroing faulted in pages the model may not reach for many steps.
    /// </remarks>
    private void GrowSegments()
    {
        // A model that outgrows the fresh capacity is learning (about 1,500 segments after 100 NAB rows): go straight to
        // room for many more (GrownSegments: 16,384 while the GC's commits allow, else 2,048), then double.
        int n = _seg.Length * 2;
        if (n < LargeGrownSegments)
        {
            n = Math.Max(n, GrownSegments());
        }

        _seg = Grown(_seg, n);
        _segSynCount = Grown(_segSynCount, n);
        _segPositive = Grown(_segPositive, n);
        _segTotal = Grown(_segTotal, n);
        _segLastActive = Grown(_segLastActive, n);
        _segGeneration = Grown(_segGeneration, n);
        _segConnected = Grown(_segConnected, n);
        _segBroken = Grown(_segBroken, n);
        _activity = Grown(_activity, n);
        _touchedSegs = Grown(_touchedSegs, n + 1);
        _qualSegs = Grown(_qualSegs, n + 1);
        _qualKeys = Grown(_qualKeys, n);
        _pendingKeys = Grown(_pendingKeys, n);
        _pendingDc = Grown(_pendingDc, n);
        _qualSorted = Grown(_qualSorted, n + 1);
        _qualNext = Grown(_qualNext, n + 1);
        _freeSegIds = Grown(_freeSegIds, n);
        _synSource = Grown(_synSource, n * _maxSyn);
        _synPerm = Grown(_synPerm, n * _maxSyn);
    }

    /// <summary>
    /// Moves every segment's block to the widest stride (<c>_synRoom</c>, room for twice the cap) the first time a segment
    /// must hold more than the cap. Stored synapses, their order and every segment id stay as they were, so nothing a
    /// step computes or a checkpoint writes depends on the stride.
    /// </summary>
    /// <remarks>
    /// Once per model at most, and only after Cells4's stale-index freeing has left a segment above the cap (many updates
    /// into a model's life). Callers recompute any offset or reference into the synapse arrays taken before.
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WidenSynapseStride()
    {
        int oldStride = _maxSyn;
        int stride = _synRoom;
        int capacity = _seg.Length;
        int[] sources = UninitializedGrowth.New<int>(capacity * stride);
        float[] permanences = UninitializedGrowth.New<float>(capacity * stride);
        for (int seg = 0; seg < _segHigh; seg++)
        {
            int n = _segSynCount[seg];
            _synSource.AsSpan(seg * oldStride, n).CopyTo(sources.AsSpan(seg * stride));
            _synPerm.AsSpan(seg * oldStride, n).CopyTo(permanences.AsSpan(seg * stride));
        }

        _synSource = sources;
        _synPerm = permanences;
        _maxSyn = stride;
    }

    /// <summary>A copy of <paramref name="old"/> lengthened to <paramref name="length"/>, the new entries not zeroed.</summary>
    private static T[] Grown<T>(T[] old, int length)
        where T : unmanaged => UninitializedGrowth.Grown(old, length, old.Length);

    /// <summary>
    /// The fields of a never-used segment id that <see cref="CreateSegment"/> does not write and a zeroed array held at
    /// 0: its generation (a checkpoint writes it), its broken-link count and its activity counter.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void InitFreshSegment(int seg)
    {
        _segGeneration[seg] = 0;
        _segBroken[seg] = 0;
        _activity[seg] = 0;
    }

    /// <summary>
    /// Cells4's adaptSegment with positive reinforcement: synapses whose source is in <paramref name="set"/> gain
    /// permanenceInc (capped at 1), the others lose permanenceDec and go at ≤ 0; sources of the set not yet on the
    /// segment are added at initialPerm after freeing the weakest synapses if the segment would exceed its cap.
    /// <paramref name="set"/> = the existing active sources (sorted) followed by the new sources (sorted).
    /// </summary>
    private void AdaptSegment(int seg, ReadOnlySpan<int> set)
    {
        byte[] flag = _setFlag;
        for (int i = 0; i < set.Length; i++)
        {
            flag[set[i]] = 1;
        }

        // Which synapses are reinforced; their sources' flags become 2 (found on the segment), so that the set members
        // still flagged 1 afterwards are the new sources.
        int n = _segSynCount[seg];
        ref int segSrc = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_synSource), seg * _maxSyn);
        ref byte flagRef = ref MemoryMarshal.GetArrayDataReference(flag);
        ref byte reinforced = ref MemoryMarshal.GetArrayDataReference(_reinforced);
        for (int k = 0; k < n; k++)
        {
            ref byte f = ref Unsafe.Add(ref flagRef, Unsafe.Add(ref segSrc, k));
            byte on = f;
            Unsafe.Add(ref reinforced, k) = on;
            f = (byte)(on << 1);
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

        AdaptSegmentMarked(seg, newCount);
    }

    /// <summary>Queued update <paramref name="u"/> (deferred) applied, in one pass over its segment.</summary>
    private void ApplyDeferredUpdate(int u)
    {
        ResolveDeferredUpdate(u, out int newCount);
        AdaptSegmentMarked(_updSeg[u], newCount);
    }

    /// <summary>
    /// What a deferred update stands for, as <see cref="AdaptSegmentMarked"/> takes it: <c>_reinforced</c> flags the
    /// segment's synapses on the snapshot, <c>_scratchUpdate</c> lists their sources (segment order) and
    /// <c>_scratchChosen</c> the new sources, the candidates (snapshot cells not on the segment) at the chosen
    /// positions. Returns the number of reinforced synapses; <paramref name="newCount"/> the new ones. Together the
    /// two lists are exactly what BuildUpdate would have written when the update was queued.
    /// </summary>
    private int ResolveDeferredUpdate(int u, out int newCount)
    {
        int offset = _updOffset[u];
        int length = _updLength[u];
        ReadOnlySpan<int> snapshot = _updSources.AsSpan(offset, length);
        if (_flaggedSnapshot != offset)
        {
            ClearSnapshotFlags();
            for (int i = 0; i < snapshot.Length; i++)
            {
                _snapshotFlag[snapshot[i]] = 1;
            }

            _flaggedSnapshot = offset;
            _flaggedSnapshotLength = length;
        }

        // Reinforced = on the snapshot. The reinforced sources are also listed (branch-free), to tell the candidates,
        // the snapshot cells not on the segment, below.
        int seg = _updSeg[u];
        int n = _segSynCount[seg];
        ref int segSrc = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_synSource), seg * _maxSyn);
        ref byte onSnapshot = ref MemoryMarshal.GetArrayDataReference(_snapshotFlag);
        ref byte reinforced = ref MemoryMarshal.GetArrayDataReference(_reinforced);
        ref int onBoth = ref MemoryMarshal.GetArrayDataReference(_scratchUpdate);
        int active = 0;
        for (int k = 0; k < n; k++)
        {
            int source = Unsafe.Add(ref segSrc, k);
            byte on = Unsafe.Add(ref onSnapshot, source);
            Unsafe.Add(ref reinforced, k) = on;
            Unsafe.Add(ref onBoth, active) = source;
            active += on;
        }

        Debug.Assert(active == _updActive[u], "A deferred update's segment changed between queueing and use.");
        ulong chosen = _updChosen[u];
        newCount = 0;
        if (chosen != 0)
        {
            // Mark the segment's snapshot cells, then walk the snapshot without a branch on the outcome (a quarter of
            // its cells are on the segment, in no predictable order), clearing every mark as it goes. A merge of the
            // two sorted lists would chain each round's load to the previous round's compare.
            ref byte onSegment = ref MemoryMarshal.GetArrayDataReference(_setFlag);
            for (int k = 0; k < active; k++)
            {
                Unsafe.Add(ref onSegment, Unsafe.Add(ref onBoth, k)) = 1;
            }

            ref int addedRef = ref MemoryMarshal.GetArrayDataReference(_scratchChosen);
            int position = 0;
            for (int i = 0; i < snapshot.Length; i++)
            {
                int cell = snapshot[i];
                ref byte mark = ref Unsafe.Add(ref onSegment, cell);
                int free = mark ^ 1;
                mark = 0;
                Unsafe.Add(ref addedRef, newCount) = cell;
                newCount += (int)((chosen >> position) & 1) & free;
                position += free;
            }
        }

        return active;
    }

    /// <summary>
    /// The rest of <see cref="AdaptSegment"/> once <c>_reinforced</c> flags the segment's reinforced synapses and the
    /// first <paramref name="newCount"/> entries of <c>_scratchChosen</c> hold the new sources (sorted).
    /// </summary>
    private void AdaptSegmentMarked(int seg, int newCount)
    {
        _segLastActive[seg] = _lrnIteration;
        _segPositive[seg]++;
        DutyCycle(seg, active: true, readOnly: false);

        int baseIdx = seg * _maxSyn;
        int n = _segSynCount[seg];
        float connected = _p.ConnectedPermanence;
        ref int segSrc = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_synSource), baseIdx);

        // The old synapses stay in the segment's block until the merge below, so FreeSynapsesLikeCells4 reads Cells4's
        // stale view from there, and only when the cap is exceeded.
        var updated = new PermanenceUpdateOutput(_scratchSynSrc, _scratchSynPerm, _scratchSynKind, _deadSources, _crossedLinks);
        int kept = SynapseKernels.UpdatePermanences(
            n,
            _synSource.AsSpan(baseIdx, _maxSyn),
            _synPerm.AsSpan(baseIdx, _maxSyn),
            _reinforced,
            _p.PermanenceIncrement,
            _p.PermanenceDecrement,
            connected,
            updated,
            out int dead,
            out int crossed,
            out int keptConnected);

        // The forward index follows: dead synapses lose their link (one without a link was a broken one), crossed ones
        // get their connected tag flipped. The order does not matter: each source has at most one link to seg.
        for (int i = 0; i < dead; i++)
        {
            if (!RemoveLink(_deadSources[i], seg))
            {
                _segBroken[seg]--;
            }
        }

        _synapseCount -= dead;
        for (int i = 0; i < crossed; i++)
        {
            int entry = _crossedLinks[i];
            RetagLink(entry >> 1, seg, connected: (entry & 1) != 0);
        }

        int[] added = _scratchChosen;
        if (newCount > _synLimit)
        {
            newCount = _synLimit;
        }

        int excess = kept + newCount - _synCap;
        if (excess > 0)
        {
            FreeSynapsesLikeCells4(_scratchSynSrc, _scratchSynPerm, _scratchSynKind, ref kept, n, excess, seg);
            keptConnected = 0;
            for (int k = 0; k < kept; k++)
            {
                keptConnected += _scratchSynPerm[k] >= connected ? 1 : 0;
            }

            // Cells4 can leave a segment above its cap (see FreeSynapsesLikeCells4); storage holds twice the cap,
            // and should a segment ever outgrow even that, the surplus new synapses are not added.
            newCount = Math.Min(newCount, _synLimit - kept);
        }

        if (kept + newCount > _maxSyn)
        {
            // Cells4's freeing left the segment above the cap: every block widens to the limit (see WidenSynapseStride).
            WidenSynapseStride();
            baseIdx = seg * _maxSyn;
            segSrc = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_synSource), baseIdx);
        }

        // Merge the kept (sorted) and the new (sorted) synapses back into the segment's block.
        ref int keptSrc = ref MemoryMarshal.GetArrayDataReference(_scratchSynSrc);
        ref float keptPerm = ref MemoryMarshal.GetArrayDataReference(_scratchSynPerm);
        ref float segPerm = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_synPerm), baseIdx);
        ref int addedRef = ref MemoryMarshal.GetArrayDataReference(added);
        float initial = _p.InitialPermanence;
        int initialConnected = initial >= connected ? 1 : 0;
        int connectedCount = keptConnected + (newCount * initialConnected);
        if (newCount == 0)
        {
            _scratchSynSrc.AsSpan(0, kept).CopyTo(_synSource.AsSpan(baseIdx, kept));
            _scratchSynPerm.AsSpan(0, kept).CopyTo(_synPerm.AsSpan(baseIdx, kept));
        }
        else
        {
            int newLink = Link(seg, initial >= connected);
            int a = 0;
            int b = 0;
            int w = 0;
            while (a < kept || b < newCount)
            {
                if (b >= newCount || (a < kept && Unsafe.Add(ref keptSrc, a) < Unsafe.Add(ref addedRef, b)))
                {
                    Unsafe.Add(ref segSrc, w) = Unsafe.Add(ref keptSrc, a);
                    Unsafe.Add(ref segPerm, w) = Unsafe.Add(ref keptPerm, a);
                    a++;
                }
                else
                {
                    int source = Unsafe.Add(ref addedRef, b);
                    Unsafe.Add(ref segSrc, w) = source;
                    Unsafe.Add(ref segPerm, w) = initial;
                    _outSynapses.Add(source, newLink);
                    b++;
                }

                w++;
            }
        }

        _segConnected[seg] = connectedCount;
        _synapseCount += newCount;
        _segSynCount[seg] = kept + newCount;
        if (kept + newCount == 0)
        {
            ReleaseSegment(seg);
        }
    }

    /// <summary>
    /// Removes the forward link from <paramref name="source"/> to <paramref name="seg"/> whatever its tag; false when
    /// the synapse has none (a link Cells4's stale-index freeing erased).
    /// </summary>
    private bool RemoveLink(int source, int seg) => _outSynapses.RemoveSwapEither(source, Link(seg, false), Link(seg, true));

    /// <summary>
    /// Flips the connected tag of the forward link from <paramref name="source"/> to <paramref name="seg"/> after its
    /// permanence crossed connectedPerm; a synapse whose link Cells4's stale-index freeing erased has none to flip.
    /// </summary>
    private void RetagLink(int source, int seg, bool connected) =>
        _outSynapses.Replace(source, Link(seg, !connected), Link(seg, connected));

    /// <summary>
    /// Cells4's adaptSegment + Segment::freeNSynapses, quirk included. Cells4 records the positions of the
    /// decremented and incremented synapses before updateSynapses removes the ones that fell to ≤ 0, then frees by
    /// those stale positions: candidates are the decremented positions (permanence read at that position now), then,
    /// if too few, the incremented ones (permanence + permMax, in float32), stable-sorted by permanence; the first
    /// <paramref name="excess"/> positions are removed. A position past the compacted end reads the old entry still
    /// in memory (the original synapse there, decremented or not yet incremented) and removes nothing, so the segment
    /// keeps more than the cap; the source read there still has its forward link erased, which leaves that synapse,
    /// if still on the segment, without a link (counted in _segBroken). With nothing removed at ≤ 0 this is simply
    /// "weakest decremented synapses first, then weakest incremented ones".
    /// </summary>
    /// <param name="src">Compacted sources after the permanence update.</param>
    /// <param name="perm">Compacted permanences after the permanence update.</param>
    /// <param name="kind">Compacted kinds: 0 = decremented, 1 = incremented.</param>
    /// <param name="kept">Compacted length; reduced by the synapses actually removed.</param>
    /// <param name="n">Length of the segment before the update; its block still holds the old entries.</param>
    /// <param name="excess">Cells4's numToFree.</param>
    /// <param name="seg">The segment.</param>
    private void FreeSynapsesLikeCells4(int[] src, float[] perm, byte[] kind, ref int kept, int n, int excess, int seg)
    {
        // Kind of each original position: a synapse removed at ≤ 0 was a decremented one.
        // Cells4's stale view of each original position: its source, and its permanence after the update in place
        // (a decremented synapse removed at ≤ 0 still shows its decremented value; an incremented one is not yet
        // incremented). The block is untouched until AdaptSegment's merge, so it still holds the old entries.
        byte[] origKind = _staleKind;
        int baseIdx = seg * _maxSyn;
        float dec = _p.PermanenceDecrement;
        for (int k = 0, a = 0; k < n; k++)
        {
            int s = _synSource[baseIdx + k];
            float p = _synPerm[baseIdx + k];
            bool survived = a < kept && src[a] == s;
            byte kk = survived ? kind[a] : (byte)0;
            origKind[k] = kk;
            _staleSrc[k] = s;
            _stalePerm[k] = kk == 1 ? p : p - dec;
            if (survived)
            {
                a++;
            }
        }

        int[] candIdx = _candIdx;
        float[] candPerm = _candPerm;
        int cc = 0;
        for (byte which = 0; which < 2 && (which == 0 || cc < excess); which++)
        {
            float offset = which == 0 ? 0f : 1.0f; // permMax
            for (int k = 0; k < n; k++)
            {
                if (origKind[k] == which)
                {
                    candIdx[cc] = k;
                    candPerm[cc] = (k < kept ? perm[k] : _stalePerm[k]) + offset;
                    cc++;
                }
            }
        }

        // std::stable_sort by permanence (insertion sort: at most 2 × cap entries).
        for (int i = 1; i < cc; i++)
        {
            int ci = candIdx[i];
            float cp = candPerm[i];
            int j = i - 1;
            while (j >= 0 && candPerm[j] > cp)
            {
                candIdx[j + 1] = candIdx[j];
                candPerm[j + 1] = candPerm[j];
                j--;
            }

            candIdx[j + 1] = ci;
            candPerm[j + 1] = cp;
        }

        int take = Math.Min(excess, cc);
        Array.Sort(candIdx, 0, take);
        int oldKept = kept;
        int w = 0;
        int d = 0;
        for (int k = 0; k < oldKept; k++)
        {
            if (d < take && candIdx[d] == k)
            {
                if (!RemoveLink(src[k], seg))
                {
                    _segBroken[seg]--;
                }

                _synapseCount--;
                d++;
                continue;
            }

            src[w] = src[k];
            perm[w] = perm[k];
            kind[w] = kind[k];
            w++;
        }

        kept = w;
        for (; d < take; d++)
        {
            // Past the compacted end: nothing is removed, but the stale source loses its link if it has one.
            int stale = _staleSrc[candIdx[d]];
            if (src.AsSpan(0, kept).Contains(stale) && RemoveLink(stale, seg))
            {
                _segBroken[seg]++;
            }
        }
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
            // Branch-free filter: every source is written, the end only advances past the active ones
            // (destination holds at least maxSyn entries, so the write past the last kept one fits).
            int count = _segSynCount[seg];
            ref int src = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_synSource), seg * _maxSyn);
            ref byte flags = ref MemoryMarshal.GetArrayDataReference(state.Flags);
            ref int dst = ref MemoryMarshal.GetArrayDataReference(destination);
            for (int k = 0; k < count; k++)
            {
                int s = Unsafe.Add(ref src, k);
                Unsafe.Add(ref dst, n) = s;
                n += Unsafe.Add(ref flags, s) != 0 ? 1 : 0;
            }
        }

        if (newSynapses)
        {
            // The sources just found on state are the only state cells on the segment (sortedState lists state).
            n += ChooseCellsToLearnFrom(seg, _p.NewSynapseCount - n, sortedState, destination.AsSpan(0, n), destination.AsSpan(n));
        }

        return n;
    }

    /// <summary>
    /// Cells4's chooseCellsToLearnFrom: candidates are the on cells (sorted) minus the segment's existing sources;
    /// all of them if there are at most <paramref name="wanted"/>, one by getUInt32 if one is wanted, else a
    /// selection sample in cell order.
    /// </summary>
    private int ChooseCellsToLearnFrom(int seg, int wanted, ReadOnlySpan<int> sortedState, ReadOnlySpan<int> sourcesOnState, Span<int> destination)
    {
        if (wanted <= 0 || sortedState.Length == 0)
        {
            return 0;
        }

        if (_scratchCandidates.Length < sortedState.Length)
        {
            // Every state cell may be a candidate (the writes below are unchecked).
            _scratchCandidates = new int[Math.Max(sortedState.Length, _scratchCandidates.Length * 2)];
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
            // Difference by marks: the segment's sources that are on in the state (the only state cells the segment
            // has, found by BuildUpdate) are flagged, then every state cell is written and the end advances past the
            // unflagged ones. Unlike a merge of the two sorted lists this has no chain of loads and compares from one
            // round to the next; the candidates keep the state's (sorted) order.
            ref byte flag = ref MemoryMarshal.GetArrayDataReference(_setFlag);
            for (int k = 0; k < sourcesOnState.Length; k++)
            {
                Unsafe.Add(ref flag, sourcesOnState[k]) = 1;
            }

            ref int st = ref MemoryMarshal.GetReference(sortedState);
            ref int cd = ref MemoryMarshal.GetArrayDataReference(cand);
            for (int i = 0; i < sortedState.Length; i++)
            {
                int c = Unsafe.Add(ref st, i);
                Unsafe.Add(ref cd, nc) = c;
                nc += Unsafe.Add(ref flag, c) == 0 ? 1 : 0;
            }

            for (int k = 0; k < sourcesOnState.Length; k++)
            {
                Unsafe.Add(ref flag, sourcesOnState[k]) = 0;
            }
        }

        if (nc <= wanted)
        {
            cand.AsSpan(0, nc).CopyTo(destination);
            return nc;
        }

        if (wanted == 1)
        {
            destination[0] = cand[(int)NupicSampling.NextBelow(_random, (uint)nc)];
            return 1;
        }

        NupicSampling.Sample(_random, cand.AsSpan(0, nc), destination[..wanted]);
        return wanted;
    }

    // ---------------------------------------------------------------- queued segment updates

    private void QueueUpdate(int seg, ReadOnlySpan<int> sources)
    {
        int cell = _seg[seg].Cell;
        int i = AppendUpdate(seg, sources.Length, cell < 0 ? -1 : ColumnOf(cell));
        _updActive[i] = -1;
        _updChosen[i] = 0;
        sources.CopyTo(_updSources.AsSpan(_updUsed));
        _updUsed += sources.Length;
    }

    /// <summary>
    /// Copies the (sorted) learning state into the queue's source store once per learning phase 2, for the deferred
    /// updates queued against it; returns its offset.
    /// </summary>
    private int SnapshotState(ReadOnlySpan<int> sortedState)
    {
        EnsureUpdateSources(sortedState.Length);
        int offset = _updUsed;
        sortedState.CopyTo(_updSources.AsSpan(offset));
        _updUsed += sortedState.Length;
        return offset;
    }

    /// <summary>
    /// Queues an update whose sources are worked out only if it is applied: the segment's synapses on the snapshot
    /// (<paramref name="active"/> of them) and the candidates at the positions set in <paramref name="chosen"/>.
    /// </summary>
    /// <remarks>
    /// Exact because nothing changes a queued segment's synapses before the queue is processed or saved: the rest of
    /// learning phase 2 only queues, inference only refreshes duty cycles, and the queue holds at most one update per
    /// segment (one per column), applied in queue order.
    /// </remarks>
    private void QueueDeferred(int seg, int column, int snapshotOffset, int snapshotLength, int active, ulong chosen)
    {
        int i = AppendUpdate(seg, 0, column);
        _updOffset[i] = snapshotOffset;
        _updLength[i] = snapshotLength;
        _updActive[i] = active;
        _updChosen[i] = chosen;
    }

    private int AppendUpdate(int seg, int sourceCount, int column)
    {
        if (_updCount == _updSeg.Length)
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

        EnsureUpdateSources(sourceCount);
        int i = _updCount++;
        _updSeg[i] = seg;
        _updGeneration[i] = _segGeneration[seg];
        _updTime[i] = _lrnIteration;
        _updOffset[i] = _updUsed;
        _updLength[i] = sourceCount;
        _updColumn[i] = column;
        return i;
    }

    private void EnsureUpdateSources(int more)
    {
        if (_updUsed + more > _updSources.Length)
        {
            Array.Resize(ref _updSources, Math.Max(_updSources.Length * 2, _updUsed + more));
        }
    }

    private void ClearSnapshotFlags()
    {
        if (_flaggedSnapshot < 0)
        {
            return;
        }

        // The flagged snapshot is still in the store: the store is only reset with the flags cleared first.
        foreach (int cell in _updSources.AsSpan(_flaggedSnapshot, _flaggedSnapshotLength))
        {
            _snapshotFlag[cell] = 0;
        }

        _flaggedSnapshot = -1;
    }

    private void ClearUpdates()
    {
        ClearSnapshotFlags();
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

        // The updates of active columns first, from the columns recorded when queued: more than half are dropped,
        // and reading their segments (state and synapses, scattered over the store) would only fetch memory. The
        // checks are pure, so their order does not matter; a segment freed since has a new generation or no cell.
        int[] apply = _updApply;
        int applicable = 0;
        for (int u = 0; u < _updCount; u++)
        {
            int column = _updColumn[u];
            apply[applicable] = u;
            applicable += column >= 0 && _colActive[column] != 0 && _lrnIteration - _updTime[u] <= 1 ? 1 : 0;
        }

        for (int j = 0; j < applicable; j++)
        {
            if (j + PrefetchDistance < applicable)
            {
                PrefetchSynapses(_updSeg[apply[j + PrefetchDistance]]);
            }

            int u = apply[j];
            int seg = _updSeg[u];
            if (_segGeneration[seg] != _updGeneration[u] || _seg[seg].Cell < 0)
            {
                continue;
            }

            if (_updActive[u] < 0)
            {
                AdaptSegment(seg, _updSources.AsSpan(_updOffset[u], _updLength[u]));
            }
            else
            {
                ApplyDeferredUpdate(u);
            }
        }

        for (int i = 0; i < activeColumns.Length; i++)
        {
            _colActive[activeColumns[i]] = 0;
        }

        ClearUpdates();
    }
}
