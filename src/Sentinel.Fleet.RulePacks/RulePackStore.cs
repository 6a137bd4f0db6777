using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.ObjectStore;
using NATS.Client.ObjectStore.Models;
using NATS.Net;

namespace Sentinel.Fleet.RulePacks;

/// <summary>
/// Rule packs in the JetStream object store <c>SENTINEL_RULES</c>: every pushed pack is kept as
/// <c>packs/VERSION</c> (immutable), and <c>latest</c> holds a copy of the pack agents run. Replacing an object is
/// one rollup meta message, so agents see the old <c>latest</c> or the new one, never a mix.
/// </summary>
public sealed class RulePackStore
{
    public const string Bucket = "SENTINEL_RULES";
    public const string Latest = "latest";
    public const string VersionPrefix = "packs/";

    private readonly INatsObjStore _store;

    private RulePackStore(INatsObjStore store) => _store = store;

    /// <summary>Opens the bucket; with <paramref name="create"/>, creates it (file storage, <paramref name="replicas"/>) if missing.</summary>
    public static async Task<RulePackStore> OpenAsync(INatsConnection nats, bool create, int replicas = 1, CancellationToken ct = default)
    {
        var objects = nats.CreateObjectStoreContext();
        try
        {
            return new RulePackStore(await objects.GetObjectStoreAsync(Bucket, ct));
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == 404 && create)
        {
            return new RulePackStore(await objects.CreateObjectStoreAsync(
                new NatsObjConfig(Bucket)
                {
                    Description = "Sentinel signed rule packs", Storage = NatsObjStorageType.File, NumberOfReplicas = replicas,
                }, ct));
        }
    }

    /// <summary>Stores a signed pack as packs/VERSION, then makes it latest. A version is never overwritten.</summary>
    public async Task PublishAsync(byte[] pack, RulePackManifest manifest, CancellationToken ct = default)
    {
        var name = VersionPrefix + manifest.Version;
        try
        {
            var existing = await _store.GetInfoAsync(name, cancellationToken: ct);
            throw new RulePackException($"version {manifest.Version} already exists in {Bucket} (pushed {existing.MTime:u}); versions are immutable: choose another --version");
        }
        catch (NatsObjNotFoundException)
        {
        }
        await PutAsync(name, pack, manifest.Version, manifest.ContentHash, ct);
        await PutAsync(Latest, pack, manifest.Version, manifest.ContentHash, ct);
    }

    /// <summary>Stores bytes as they are (tests use it to offer agents unsigned or tampered packs).</summary>
    public async Task PutAsync(string name, byte[] bytes, string version, string hash, CancellationToken ct = default)
    {
        var meta = new ObjectMetadata
        {
            Name = name,
            Description = $"rule pack {version}",
            Metadata = new Dictionary<string, string> { ["version"] = version, ["content-hash"] = hash },
        };
        await _store.PutAsync(meta, new MemoryStream(bytes), cancellationToken: ct);
    }

    /// <summary>Reads an object, refusing to hold more than <paramref name="maxBytes"/> of it.</summary>
    public async Task<byte[]> ReadAsync(string name, long maxBytes, CancellationToken ct = default)
    {
        using var buffer = new BoundedBuffer(maxBytes);
        await _store.GetAsync(name, buffer, leaveOpen: true, cancellationToken: ct);
        return buffer.ToArray();
    }

    /// <summary>The current <c>latest</c> (if any), then each replacement of it.</summary>
    public async IAsyncEnumerable<ObjectMetadata> WatchLatestAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        await foreach (var meta in _store.WatchAsync(new NatsObjWatchOpts { IgnoreDeletes = true }, ct))
            if (meta.Name == Latest) yield return meta;
    }

    /// <summary>A write-only memory stream that throws once it would exceed its limit.</summary>
    private sealed class BoundedBuffer(long limit) : MemoryStream
    {
        public override void Write(byte[] buffer, int offset, int count) { Check(count); base.Write(buffer, offset, count); }
        public override void Write(ReadOnlySpan<byte> buffer) { Check(buffer.Length); base.Write(buffer); }
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default) { Check(buffer.Length); return base.WriteAsync(buffer, ct); }
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) { Check(count); return base.WriteAsync(buffer, offset, count, ct); }

        private void Check(int count)
        {
            if (Length + count > limit) throw new RulePackException($"too large: more than {limit} bytes");
        }
    }
}
