using System.Globalization;
using HtmEngine.Core.Models;

namespace HtmEngine.NativeCheck;

/// <summary>
/// Runs a fixed synthetic stream through the NAB detector and prints every score as exact bits plus a digest of the
/// final checkpoint. The test script runs it as a NativeAOT binary, under the JIT, and under the JIT with hardware
/// intrinsics off: the three outputs must be byte-identical, which proves that the SIMD and scalar paths and the
/// AOT-compiled code compute the same model.
/// </summary>
public static class Program
{
    /// <summary>Entry point: writes the golden run to standard output.</summary>
    public static int Main()
    {
        const int records = 2500;
        var detector = new NabDetector(ModelParameters.Nab(-40, 160), probationaryPeriod: 375);
        var start = new DateTime(2016, 1, 1, 0, 0, 0, DateTimeKind.Unspecified);
        ulong scoreDigest = 14695981039346656037UL;
        for (int i = 0; i < records; i++)
        {
            DetectorScore s = detector.Step(start.AddMinutes(5 * i), Value(i));
            scoreDigest = Mix(scoreDigest, BitConverter.DoubleToUInt64Bits(s.RawScore));
            scoreDigest = Mix(scoreDigest, BitConverter.DoubleToUInt64Bits(s.Score));
            if (i % 250 == 249 || s.Score >= 0.5)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{i} raw={s.RawScore:R} score={s.Score:R} bits={BitConverter.DoubleToUInt64Bits(s.Score):x16}"));
            }
        }

        byte[] checkpoint = detector.Model.Save();
        ulong checkpointDigest = 14695981039346656037UL;
        foreach (byte b in checkpoint)
        {
            checkpointDigest = Mix(checkpointDigest, b);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"records={records} scores={scoreDigest:x16} checkpoint_bytes={checkpoint.Length} checkpoint={checkpointDigest:x16}"));
        return 0;
    }

    /// <summary>A daily cycle with noise, a level shift at 1500 and a spike at 2100.</summary>
    private static double Value(int i)
    {
        double cycle = 50 + (30 * Math.Sin(i * 2 * Math.PI / 288));
        double noise = ((i * 2654435761L) % 1000) / 250.0;
        double shift = i >= 1500 ? 15 : 0;
        double spike = i == 2100 ? 60 : 0;
        return Math.Round(cycle + noise + shift + spike, 3);
    }

    private static ulong Mix(ulong hash, ulong value) => (hash ^ value) * 1099511628211UL;
}
