using YamlDotNet.RepresentationModel;

namespace FlashdutySync.Tests.Support;

/// <summary>Reads the repository's YAML (manifests, rules, compose) for tests that check what matters in them.</summary>
public static class Yaml
{
    /// <summary>Every document of the file (a manifest may hold several), each a mapping.</summary>
    public static IReadOnlyList<YamlMappingNode> Documents(string relative)
    {
        var stream = new YamlStream();
        using var reader = new StringReader(RepoFiles.Read(relative));
        stream.Load(reader);
        return stream.Documents.Select(d => (YamlMappingNode)d.RootNode).ToList();
    }

    public static YamlMappingNode Single(string relative) => Assert.Single(Documents(relative));

    /// <summary>The node at a dotted path of mapping keys, or null when some key is missing.</summary>
    public static YamlNode? At(this YamlNode node, string path)
    {
        YamlNode? current = node;
        foreach (var key in path.Split('.'))
        {
            if (current is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out current)) return null;
        }

        return current;
    }

    public static string? Text(this YamlNode node, string path) => (node.At(path) as YamlScalarNode)?.Value;

    public static YamlMappingNode Map(this YamlNode node, string path) =>
        node.At(path) as YamlMappingNode ?? throw new Xunit.Sdk.XunitException($"no mapping at {path}");

    public static IReadOnlyList<YamlNode> List(this YamlNode node, string path) =>
        (node.At(path) as YamlSequenceNode)?.Children.ToList() ?? [];

    public static IReadOnlyList<string> Keys(this YamlMappingNode map) => map.Children.Keys.Select(k => ((YamlScalarNode)k).Value!).ToList();
}
