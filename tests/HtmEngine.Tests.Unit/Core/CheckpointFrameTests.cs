using HtmEngine.Core.Checkpoints;

namespace HtmEngine.Tests.Unit.Core;

public class CheckpointFrameTests
{
    private static byte[] Sample()
    {
        var w = new CheckpointWriter(kind: 7, version: 3);
        w.WriteInt32(-5);
        w.WriteDouble(Math.PI);
        w.WriteSingle(0.21f);
        w.WriteBoolean(true);
        w.WriteSpan<ulong>(new ulong[] { 1, ulong.MaxValue, 42 });
        return w.Complete();
    }

    [Fact]
    public void Fields_round_trip_bit_for_bit()
    {
        var r = new CheckpointReader(Sample(), 7, 3);
        Assert.Equal(-5, r.ReadInt32());
        Assert.Equal(Math.PI, r.ReadDouble());
        Assert.Equal(0.21f, r.ReadSingle());
        Assert.True(r.ReadBoolean());
        Assert.Equal(new ulong[] { 1, ulong.MaxValue, 42 }, r.ReadArray<ulong>());
        Assert.True(r.AtEnd);
    }

    [Fact]
    public void Any_flipped_byte_is_detected()
    {
        byte[] good = Sample();
        for (int i = 0; i < good.Length; i++)
        {
            byte[] bad = (byte[])good.Clone();
            bad[i] ^= 0x10;
            Assert.Throws<CheckpointFormatException>(() => new CheckpointReader(bad, 7, 3));
        }
    }

    [Fact]
    public void Truncation_wrong_kind_and_wrong_version_are_refused_with_reasons()
    {
        byte[] good = Sample();
        var truncated = Assert.Throws<CheckpointFormatException>(() => new CheckpointReader(good.AsSpan(0, good.Length - 9), 7, 3));
        Assert.Contains("truncated", truncated.Message, StringComparison.Ordinal);
        var kind = Assert.Throws<CheckpointFormatException>(() => new CheckpointReader(good, 8, 3));
        Assert.Contains("kind", kind.Message, StringComparison.Ordinal);
        var version = Assert.Throws<CheckpointFormatException>(() => new CheckpointReader(good, 7, 4));
        Assert.Contains("version", version.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reading_past_the_payload_fails_instead_of_returning_garbage()
    {
        byte[] bytes = new CheckpointWriter(1, 1).Complete();
        var e = Assert.Throws<CheckpointFormatException>(() =>
        {
            var r = new CheckpointReader(bytes, 1, 1);
            r.ReadInt64();
        });
        Assert.Contains("ends early", e.Message, StringComparison.Ordinal);
    }
}
