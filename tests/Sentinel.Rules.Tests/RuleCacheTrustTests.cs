using System.Diagnostics;
using Sentinel.Rules.Compilation;
using Sentinel.TestSupport;

namespace Sentinel.Rules.Tests;

/// <summary>
/// A compiled rule loads from the cache without passing the sandbox again, so a cache someone else can write to
/// is never read: an image planted there must not run.
/// </summary>
public sealed class RuleCacheTrustTests
{
    private static readonly string Source = TestRules.Rule("SNT-9001", """findings.Add("compiled from source");""");

    /// <summary>A cache directory with an image planted under the hash the rule's source will have.</summary>
    private static string CacheWithPlantedImage(RuleDirectory dir)
    {
        var cache = Path.Combine(dir.Path, "cache");
        Directory.CreateDirectory(cache);
        File.WriteAllBytes(Path.Combine(cache, RuleCompiler.ContentHash(Source) + ".dll"), "MZ planted, not a rule"u8.ToArray());
        return cache;
    }

    private static RuleEngine LoadWithCache(RuleDirectory dir, string cache) =>
        TestRules.Load(dir.Path, TestRules.Options() with { UseCache = true, CacheDirectory = cache });

    [Fact]
    public void A_cache_others_can_write_to_is_not_read_and_the_rule_is_compiled_from_its_source()
    {
        using var dir = new RuleDirectory();
        dir.Write("r.csx", Source);
        var cache = CacheWithPlantedImage(dir);
        File.SetUnixFileMode(cache, (UnixFileMode)0b111_111_111);

        Assert.Contains("can be written by others (mode 777)", new RuleCache(cache).Untrusted);
        using var engine = LoadWithCache(dir, cache);

        Assert.DoesNotContain(engine.Diagnostics, d => d.IsError);
        var sink = new ListSink();
        engine.Evaluate(TestRules.Event(), sink);
        Assert.Equal("compiled from source", Assert.Single(sink.Detections).Message);
        Assert.Single(Directory.GetFiles(cache)); // nothing written beside the planted image either
    }

    [Fact]
    public void A_private_cache_is_read_so_the_planted_image_shows_the_test_is_real()
    {
        using var dir = new RuleDirectory();
        dir.Write("r.csx", Source);
        var cache = CacheWithPlantedImage(dir);
        File.SetUnixFileMode(cache, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        Assert.Null(new RuleCache(cache).Untrusted);
        using var engine = LoadWithCache(dir, cache);

        Assert.Contains(engine.Diagnostics, d => d.IsError && d.Message.Contains("could not be loaded"));
    }

    [LiveFact]
    public void A_cache_that_belongs_to_another_user_is_not_used()
    {
        using var dir = new RuleDirectory();
        var cache = CacheWithPlantedImage(dir);
        File.SetUnixFileMode(cache, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        using (var chown = Process.Start("chown", ["65534", cache])) chown.WaitForExit();

        Assert.Contains("belongs to uid 65534", new RuleCache(cache).Untrusted);
    }
}
