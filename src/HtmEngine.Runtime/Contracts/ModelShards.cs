using System.Text;

namespace HtmEngine.Runtime.Contracts;

/// <summary>
/// Which shard owns a metric's model, and the queue names derived from the configuration. The hash is
/// fixed (FNV-1a over the uid's UTF-8 bytes) so every process that shares a broker agrees on it.
/// </summary>
public static class ModelShards
{
    /// <summary>The shard, in [0, <paramref name="shardCount"/>), that owns <paramref name="metricUid"/>.</summary>
    /// <param name="metricUid">The metric uid.</param>
    /// <param name="shardCount">How many shards the engine runs.</param>
    /// <returns>The shard index.</returns>
    public static int ShardOf(string metricUid, int shardCount)
    {
        ArgumentException.ThrowIfNullOrEmpty(metricUid);
        ArgumentOutOfRangeException.ThrowIfLessThan(shardCount, 1);
        uint hash = 2166136261;
        Span<byte> buffer = stackalloc byte[256];
        int length = Encoding.UTF8.GetByteCount(metricUid);
        Span<byte> bytes = length <= buffer.Length ? buffer[..length] : new byte[length];
        Encoding.UTF8.GetBytes(metricUid, bytes);
        foreach (byte b in bytes)
        {
            hash = (hash ^ b) * 16777619;
        }

        return (int)(hash % (uint)shardCount);
    }

    /// <summary>The input queue of one shard: <c>[interface_bus] model_input_queue_prefix</c> + <c>shard.</c> + index.</summary>
    /// <param name="modelInputQueuePrefix">The configured prefix (e.g. <c>htmengine.mswapper.model.input.</c>).</param>
    /// <param name="shard">The shard index.</param>
    /// <returns>The queue name.</returns>
    public static string InputQueue(string modelInputQueuePrefix, int shard) =>
        modelInputQueuePrefix + "shard." + shard.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
