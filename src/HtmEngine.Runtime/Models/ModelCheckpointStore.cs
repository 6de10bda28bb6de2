using System.Text;
using HtmEngine.Core.Checkpoints;
using HtmEngine.Core.Models;
using HtmEngine.Runtime.Contracts;

namespace HtmEngine.Runtime.Models;

/// <summary>A model as its checkpoint file holds it.</summary>
/// <param name="MetricUid">The metric.</param>
/// <param name="LastRowid">The last row the model scored (0 = none).</param>
/// <param name="Definition">What the model was built from.</param>
/// <param name="Model">The model.</param>
public sealed record ModelCheckpoint(string MetricUid, long LastRowid, ModelDefinition Definition, HtmModel Model);

/// <summary>
/// One file per model under the checkpoint root: <c>&lt;uid&gt;.model</c> (uids that are not plain file names are
/// hex-encoded behind an <c>x-</c> prefix). A file is written whole to <c>&lt;name&gt;.tmp</c> in the same directory,
/// flushed to disk, and renamed over the old one, so a crash leaves either the old or the new checkpoint, plus at
/// most a leftover temporary file that <see cref="RemoveLeftoverTemporaryFiles"/> reports.
/// </summary>
/// <remarks>
/// Frame (a Core checkpoint frame of kind <see cref="FileKind"/>: magic, version, length, CRC-32C):
/// <code>str uid | i64 lastRowid | str definition JSON | bytes HtmModel.Save()</code>
/// The model bytes carry their own frame and checksum as well.
/// </remarks>
public sealed class ModelCheckpointStore
{
    /// <summary>Core checkpoint kind of a runner's checkpoint file.</summary>
    public const ushort FileKind = 0x100;

    /// <summary>Format version of the checkpoint file.</summary>
    public const ushort FileVersion = 1;

    private const string Extension = ".model";
    private const string TempExtension = ".tmp";
    private const string CorruptExtension = ".corrupt";

    /// <summary>Opens (and creates when missing) the checkpoint directory.</summary>
    /// <param name="root">An absolute directory path.</param>
    public ModelCheckpointStore(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        Root = Path.GetFullPath(root);
        Directory.CreateDirectory(Root);
    }

    /// <summary>The directory.</summary>
    public string Root { get; }

    /// <summary>The checkpoint file of a metric.</summary>
    /// <param name="metricUid">The metric.</param>
    /// <returns>Its absolute path.</returns>
    public string PathOf(string metricUid) => Path.Combine(Root, FileNameOf(metricUid) + Extension);

    /// <summary>Writes a checkpoint atomically (temporary file, flush to disk, rename) and returns its size in bytes.</summary>
    /// <param name="metricUid">The metric.</param>
    /// <param name="lastRowid">The last row the model scored.</param>
    /// <param name="definition">The model's definition.</param>
    /// <param name="model">The model.</param>
    /// <returns>The file's length.</returns>
    public long Save(string metricUid, long lastRowid, ModelDefinition definition, HtmModel model)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentNullException.ThrowIfNull(model);
        return Write(metricUid, lastRowid, definition, model.Save());
    }

    /// <summary>
    /// Writes the checkpoint of a model that has scored no row yet: the definition alone, no model bytes (a fresh
    /// model is what <see cref="ModelFactory.Build"/> makes of its definition, deterministically), so defining a model
    /// costs a small file instead of serialising megabytes of freshly initialised pooler. <see cref="TryLoad"/> builds
    /// the model from the definition.
    /// </summary>
    /// <param name="metricUid">The metric.</param>
    /// <param name="definition">The model's definition.</param>
    /// <returns>The file's length.</returns>
    public long SaveDefinition(string metricUid, ModelDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        return Write(metricUid, 0, definition, []);
    }

    private long Write(string metricUid, long lastRowid, ModelDefinition definition, byte[] modelBytes)
    {
        var writer = new CheckpointWriter(FileKind, FileVersion, initialCapacity: modelBytes.Length + 1024);
        writer.WriteString(metricUid);
        writer.WriteInt64(lastRowid);
        writer.WriteString(definition.ToJson());
        writer.WriteSpan(modelBytes);
        byte[] file = writer.Complete();

        string path = PathOf(metricUid);
        string temp = path + TempExtension;
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1))
        {
            stream.Write(file);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
        return file.Length;
    }

    /// <summary>Reads a metric's checkpoint.</summary>
    /// <param name="metricUid">The metric.</param>
    /// <param name="checkpoint">The checkpoint when the file exists and is intact.</param>
    /// <param name="problem">Why an existing file is unusable (it has been moved aside to <c>.corrupt</c>), else null.</param>
    /// <returns>True when <paramref name="checkpoint"/> was read.</returns>
    public bool TryLoad(string metricUid, out ModelCheckpoint? checkpoint, out string? problem)
    {
        checkpoint = null;
        problem = null;
        string path = PathOf(metricUid);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            return false;
        }

        try
        {
            var reader = new CheckpointReader(bytes, FileKind, FileVersion);
            string uid = reader.ReadString();
            if (uid != metricUid)
            {
                throw new CheckpointFormatException($"the file holds metric '{uid}'");
            }

            long lastRowid = reader.ReadInt64();
            ModelDefinition definition = ModelDefinition.FromJson(reader.ReadString());
            byte[] modelBytes = reader.ReadArray<byte>();
            if (!reader.AtEnd)
            {
                throw new CheckpointFormatException("unread bytes after the model");
            }

            if (modelBytes.Length == 0 && lastRowid != 0)
            {
                throw new CheckpointFormatException($"no model bytes, but last rowid {lastRowid}");
            }

            // No model bytes: a definition-only checkpoint (SaveDefinition) of a model that scored nothing yet.
            HtmModel model = modelBytes.Length == 0 ? ModelFactory.Build(definition) : HtmModel.Load(modelBytes);
            checkpoint = new ModelCheckpoint(uid, lastRowid, definition, model);
            return true;
        }
        catch (Exception e) when (e is CheckpointFormatException or FormatException or ArgumentException or IndexOutOfRangeException or InvalidDataException or OverflowException)
        {
            problem = e.Message;
            File.Move(path, path + CorruptExtension, overwrite: true);
            return false;
        }
    }

    /// <summary>
    /// Reads only the last rowid of a metric's checkpoint (the start of the file, no checksum, no model), to decide
    /// cheaply at start-up whether the model is behind the database. A file that does not parse gives false; the
    /// full load later finds out what is wrong with it.
    /// </summary>
    /// <param name="metricUid">The metric.</param>
    /// <param name="lastRowid">The rowid, when read.</param>
    /// <returns>True when the file exists and its header names this metric.</returns>
    public bool TryPeekLastRowid(string metricUid, out long lastRowid)
    {
        lastRowid = 0;
        byte[] uid = Encoding.UTF8.GetBytes(metricUid);
        Span<byte> head = stackalloc byte[16 + 4 + 8 + 256];
        int wanted = 16 + 4 + uid.Length + 8;
        if (wanted > head.Length)
        {
            return false;
        }

        try
        {
            using var stream = new FileStream(PathOf(metricUid), FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            stream.ReadAtLeast(head[..wanted], wanted, throwOnEndOfStream: true);
        }
        catch (Exception e) when (e is FileNotFoundException or EndOfStreamException)
        {
            return false;
        }

        if (System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(head) != CheckpointWriter.Magic
            || System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(head[16..]) != uid.Length
            || !head.Slice(20, uid.Length).SequenceEqual(uid))
        {
            return false;
        }

        lastRowid = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(head[(20 + uid.Length)..]);
        return true;
    }

    /// <summary>Deletes a metric's checkpoint (missing is fine).</summary>
    /// <param name="metricUid">The metric.</param>
    public void Delete(string metricUid)
    {
        string path = PathOf(metricUid);
        File.Delete(path);
        File.Delete(path + TempExtension);
    }

    /// <summary>
    /// Deletes the temporary files interrupted saves left behind for the metrics <paramref name="owned"/> accepts, and
    /// returns their paths (the previous checkpoint, if any, is intact next to them).
    /// </summary>
    /// <param name="owned">Whether this process owns a metric uid (its shard).</param>
    /// <returns>The deleted files.</returns>
    public IReadOnlyList<string> RemoveLeftoverTemporaryFiles(Func<string, bool> owned)
    {
        ArgumentNullException.ThrowIfNull(owned);
        var removed = new List<string>();
        foreach (string file in Directory.EnumerateFiles(Root, "*" + Extension + TempExtension))
        {
            string name = Path.GetFileName(file);
            string? uid = UidOf(name[..^(Extension.Length + TempExtension.Length)]);
            if (uid is not null && owned(uid))
            {
                File.Delete(file);
                removed.Add(file);
            }
        }

        return removed;
    }

    /// <summary>
    /// Counts the checkpoint files of the metrics <paramref name="owned"/> accepts (temporary and corrupt files are not
    /// counted): every model a runner knows has one, hot or not, so this minus the hot models is the cold ones.
    /// </summary>
    /// <param name="owned">Whether this process owns a metric uid (its shard).</param>
    /// <returns>The number of files.</returns>
    public int CountCheckpoints(Func<string, bool> owned)
    {
        ArgumentNullException.ThrowIfNull(owned);
        int count = 0;
        foreach (string file in Directory.EnumerateFiles(Root, "*" + Extension))
        {
            // The pattern also matches longer extensions on some platforms ("*.model" vs ".model.tmp"); check exactly.
            string name = Path.GetFileName(file);
            if (name.EndsWith(Extension, StringComparison.Ordinal) && UidOf(name[..^Extension.Length]) is { } uid && owned(uid))
            {
                count++;
            }
        }

        return count;
    }

    private static string FileNameOf(string uid)
    {
        ArgumentException.ThrowIfNullOrEmpty(uid);
        bool plain = uid.Length <= 128 && uid[0] != '.' && !uid.StartsWith("x-", StringComparison.Ordinal);
        foreach (char c in uid)
        {
            plain &= char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.';
        }

        return plain ? uid : "x-" + Convert.ToHexStringLower(Encoding.UTF8.GetBytes(uid));
    }

    private static string? UidOf(string fileName)
    {
        if (!fileName.StartsWith("x-", StringComparison.Ordinal))
        {
            return fileName;
        }

        try
        {
            return Encoding.UTF8.GetString(Convert.FromHexString(fileName.AsSpan(2)));
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
