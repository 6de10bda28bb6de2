using System.Globalization;
using HtmEngine.Core.Anomaly;
using HtmEngine.Core.Models;

namespace HtmEngine.Server.Commands;

/// <summary>
/// The command-line options shared by <c>nab</c> and <c>detect</c> that choose <see cref="NabDetectorOptions"/>:
/// <c>--nupic</c> (NAB's numenta detector exactly), <c>--ensemble K</c>, <c>--refractory N</c>,
/// <c>--averaging N</c> and <c>--tail complement|mirror</c>; each given setting overrides the base
/// (<see cref="NabDetectorOptions.Default"/>, or <see cref="NabDetectorOptions.NuPic"/> with <c>--nupic</c>).
/// </summary>
public static class DetectorOptionsParser
{
    /// <summary>The options taking a value.</summary>
    public static IReadOnlyList<string> ValueOptions { get; } = ["--ensemble", "--refractory", "--averaging", "--tail", "--seed-offset"];

    /// <summary>The flag.</summary>
    public const string NuPicFlag = "--nupic";

    /// <summary>Help lines describing the options (each line ends with a newline).</summary>
    public const string HelpText = """
          --nupic           NAB's "numenta" detector exactly as NuPIC ran it (nab parameters unless
                            --params is given, one model, no refractory period; the mode to compare
                            with NuPIC's published results). Other options given with it still apply.
          --ensemble K      Run K models with different seeds and average their raw scores (K times
                            the work). Default: 1.
          --refractory N    Report an alert (final score >= 0.5, NuPIC's "red" likelihood 1 - 1e-5)
                            that comes within N records of the last reported alert as "yellow"
                            (0.3). 0 = off. Default: 10 (one averaging window; --nupic: 0).
          --seed-offset S   Add S to every model seed (encoder, spatial pooler, TM): measures how
                            much a score owes to one random initialisation. Default: 0 (NuPIC's).
          --averaging N     Width of the likelihood's raw-score moving average (NuPIC: 10).
          --tail KIND       Averaged scores below the mean: complement (NuPIC 0.5, published results;
                            default) or mirror (nupic 1.0's two-sided tail).

        """;

    /// <summary>Reads the detector options; on a bad value returns false with a usage message.</summary>
    public static bool TryParse(ParsedOptions options, out NabDetectorOptions result, out string? error)
    {
        ArgumentNullException.ThrowIfNull(options);
        result = options.Flag(NuPicFlag) ? NabDetectorOptions.NuPic : NabDetectorOptions.Default;
        error = null;
        if (!TryInt(options, "--ensemble", 1, out int? ensemble, ref error)
            || !TryInt(options, "--refractory", 0, out int? refractory, ref error)
            || !TryInt(options, "--averaging", 1, out int? averaging, ref error)
            || !TryInt(options, "--seed-offset", 0, out int? seedOffset, ref error))
        {
            return false;
        }

        BelowMeanTail? tail = null;
        switch (options.Value("--tail"))
        {
            case null:
                break;
            case "complement":
                tail = BelowMeanTail.Complement;
                break;
            case "mirror":
                tail = BelowMeanTail.Mirror;
                break;
            case string other:
                error = $"--tail '{other}' must be complement or mirror";
                return false;
        }

        result = result with
        {
            EnsembleSize = ensemble ?? result.EnsembleSize,
            RefractoryRecords = refractory ?? result.RefractoryRecords,
            AveragingWindow = averaging ?? result.AveragingWindow,
            SeedOffset = seedOffset ?? result.SeedOffset,
            BelowMeanTail = tail ?? result.BelowMeanTail,
        };
        return true;
    }

    /// <summary>
    /// The model parameter set: <c>--params</c> if given, else <c>nab</c> (NuPIC 1.0's) with <c>--nupic</c>, else
    /// <c>htmengine-0.3.4</c>, the original engine's template, so the benchmark runs the model the engine's users get.
    /// </summary>
    public static string ParameterSet(ParsedOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Value("--params") ?? (options.Flag(NuPicFlag) ? ModelParameters.NabSetName : ModelParameters.HtmEngine034SetName);
    }

    /// <summary>A one-line description of detector options for run summaries.</summary>
    public static string Describe(NabDetectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string tail = options.BelowMeanTail == BelowMeanTail.Mirror ? "mirror" : "complement";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"detector={(options.IsNuPicCompatible ? "nupic" : "custom")} ensemble={options.EnsembleSize} refractory={options.RefractoryRecords} averaging={options.AveragingWindow} tail={tail}{(options.SeedOffset == 0 ? "" : " seed-offset=" + options.SeedOffset.ToString(CultureInfo.InvariantCulture))}");
    }

    private static bool TryInt(ParsedOptions options, string name, int minimum, out int? value, ref string? error)
    {
        value = null;
        string? text = options.Value(name);
        if (text is null)
        {
            return true;
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int parsed) || parsed < minimum)
        {
            error = $"{name} '{text}' must be a whole number of at least {minimum}";
            return false;
        }

        value = parsed;
        return true;
    }
}
