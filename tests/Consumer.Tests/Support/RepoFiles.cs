namespace FlashdutySync.Tests.Support;

/// <summary>Files of the repository the tests run from (deploy/, compose.yaml, README.md).</summary>
public static class RepoFiles
{
    private static readonly Lazy<string> RootPath = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Consumer.sln"))) return dir.FullName;
        }

        throw new InvalidOperationException($"no Consumer.sln above {AppContext.BaseDirectory}: the tests run from the repository's build output");
    });

    public static string Root => RootPath.Value;

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    public static string Read(string relative) => File.ReadAllText(PathOf(relative));
}
