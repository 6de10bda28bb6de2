using FsCheck.Xunit;
using HtmEngine.Core.Encoders;

namespace HtmEngine.Tests.Property.Core.Encoders;

public class EncoderProperties
{
    [Property(MaxTest = 200)]
    public bool Any_two_values_overlap_by_the_RDSE_rule(int first, int a, int b, byte resolutionRaw)
    {
        double resolution = 0.01 + (resolutionRaw / 8.0);
        var encoder = new RandomDistributedScalarEncoder(resolution);
        // Values within about ±60 buckets of the first value, touched in a random order.
        double x0 = first % 1000;
        double xa = x0 + ((a % 12_000) / 100.0 * resolution);
        double xb = x0 + ((b % 12_000) / 100.0 * resolution);
        var bits0 = new int[21];
        var bitsA = new int[21];
        var bitsB = new int[21];
        encoder.Encode(x0, bits0);
        encoder.Encode(xa, bitsA);
        encoder.Encode(xb, bitsB);
        int distance = Math.Abs(encoder.GetBucketIndex(xa) - encoder.GetBucketIndex(xb));
        int overlap = bitsA.Count(bitsB.Contains);
        bool distinct = bitsA.Distinct().Count() == 21 && bitsB.Distinct().Count() == 21;
        return distinct && (distance < 21 ? overlap == 21 - distance : overlap <= 2);
    }

    [Property(MaxTest = 200)]
    public bool Time_of_day_bits_are_21_distinct_contiguous_modulo_54(byte hourRaw, byte minuteRaw)
    {
        var encoder = new TimeOfDayEncoder();
        var bits = new int[21];
        encoder.Encode(new DateTime(2015, 6, 1, hourRaw % 24, minuteRaw % 60, 0), bits);
        for (int k = 1; k < 21; k++)
        {
            if (bits[k] != (bits[k - 1] + 1) % 54)
            {
                return false;
            }
        }

        return bits.All(b => b is >= 0 and < 54);
    }
}
