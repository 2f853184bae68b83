using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Core.Tests.Engine;

public sealed class FileHashCacheTests
{
    [Fact]
    public void Same_size_rewrite_with_a_new_mtime_is_hashed_again()
    {
        using var dir = new TempDirectory();
        var path = dir.WriteText("a.txt", "aaaa");
        var cache = FileHashCache.InMemory();
        var first = cache.Hash(path);

        File.WriteAllText(path, "bbbb");
        File.SetLastWriteTimeUtc(path, File.GetLastWriteTimeUtc(path).AddSeconds(1));

        Assert.NotEqual(first, cache.Hash(path));
        Assert.Equal(ContentHash.OfFile(path), cache.Hash(path));
    }

    [Fact]
    public void Saved_cache_is_reused_by_a_new_instance_without_reading_the_file()
    {
        using var dir = new TempDirectory();
        var path = dir.WriteText("a.txt", "aaaa");
        var store = Path.Combine(dir.Path, "hashes.json");
        var cache = FileHashCache.Open(store);
        cache.Remember(path, "0123456789abcdef0123456789abcdef");
        cache.Save();

        // The remembered value is not the real hash, so getting it back proves the file was not read.
        Assert.Equal("0123456789abcdef0123456789abcdef", FileHashCache.Open(store).Hash(path));
    }

    [Fact]
    public void Entries_of_deleted_files_are_dropped_when_the_cache_is_saved()
    {
        using var dir = new TempDirectory();
        var kept = dir.WriteText("kept.txt", "k");
        var deleted = dir.WriteText("deleted.txt", "d");
        foreach (var file in new[] { kept, deleted })
        {
            File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddMinutes(-5));
        }
        var store = Path.Combine(dir.Path, "hashes.json");
        var first = FileHashCache.Open(store);
        first.Hash(kept);
        first.Hash(deleted);
        first.Save();
        File.Delete(deleted);

        var second = FileHashCache.Open(store);
        second.Remember(kept, "0123456789abcdef0123456789abcdef");
        second.Save();

        var saved = File.ReadAllText(store);
        Assert.Contains("kept.txt", saved);
        Assert.DoesNotContain("deleted.txt", saved);
    }

    [Fact]
    public void Damaged_cache_file_is_ignored_and_rebuilt()
    {
        using var dir = new TempDirectory();
        var path = dir.WriteText("a.txt", "aaaa");
        var store = dir.WriteText("hashes.json", "{ not json");

        Assert.Equal(ContentHash.OfFile(path), FileHashCache.Open(store).Hash(path));
    }
}
