using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using RewardedSoups.Tasks;

namespace RewardedSoups.Tests.Tasks;

/// <summary>Binding a section onto given defaults (a preset) instead of its initialisers.</summary>
public sealed class SettingsSectionTests
{
    public sealed record Inner : ISettingsSection
    {
        /// <summary>A bounded key.</summary>
        [Range(1, 100)]
        public int Steps { get; init; } = 10;

        /// <summary>Another key.</summary>
        public double Scale { get; init; } = 1.0;
    }

    public sealed record Outer : ISettingsSection
    {
        /// <summary>A key.</summary>
        public string Name { get; init; } = "plain";

        /// <summary>A nested section.</summary>
        public Inner Inner { get; init; } = new();

        /// <summary>Not a key: set in code.</summary>
        [JsonIgnore]
        public int Budget { get; init; } = 7;

        public void Check(SettingsCheck check)
        {
            if (Budget < 0) throw check.Fail("name", $"budget {Budget} is negative");
        }
    }

    private static readonly Outer Preset = new() { Name = "preset", Inner = new Inner { Steps = 50, Scale = 2.5 }, Budget = 3 };

    private static Outer Read(string json, Outer? defaults = null)
    {
        JsonObject section = JsonNode.Parse(json)!.AsObject();
        return defaults is null
            ? SettingsSection.Read<Outer>(section, new ConfigReader("x.yaml"), "outer")
            : SettingsSection.Read(section, new ConfigReader("x.yaml"), "outer", defaults);
    }

    [Fact]
    public void ReadOntoDefaults_AbsentKeysAndNestedKeysKeepThePresets()
    {
        Outer s = Read("""{"inner": {"scale": 4}}""", Preset);
        Assert.Equal(Preset with { Inner = Preset.Inner with { Scale = 4 } }, s);
        Assert.Equal(3, s.Budget);                                                      // a value that is not a key is kept too
        Assert.Equal(new Inner { Steps = 50, Scale = 2.5 }, Preset.Inner);               // the defaults are not changed
        Assert.Equal(Preset, Read("{}", Preset));
    }

    [Fact]
    public void ReadWithoutDefaults_IsTheInitialisers()
    {
        Assert.Equal(new Outer { Inner = new Inner { Steps = 20 } }, Read("""{"inner": {"steps": 20}}"""));
    }

    [Fact]
    public void Read_SectionBuiltInCode_TakesIntAndDoubleValues()
    {
        // JsonValue.Create(20) holds an int, not the long or double a parsed document holds.
        var section = new JsonObject { ["name"] = "coded", ["inner"] = new JsonObject { ["steps"] = 20, ["scale"] = 0.5f } };
        Assert.Equal(new Outer { Name = "coded", Inner = new Inner { Steps = 20, Scale = 0.5 } }, SettingsSection.Read<Outer>(section, new ConfigReader(""), "outer"));
        Assert.Equal("'outer.inner.steps': must be at most 100, got 500",
            Assert.Throws<SoupInputException>(() => SettingsSection.Read<Outer>(new JsonObject { ["inner"] = new JsonObject { ["steps"] = 500 } }, new ConfigReader(""), "outer")).Message);
    }

    [Fact]
    public void ReadOntoDefaults_IsAsStrict()
    {
        Assert.Equal("x.yaml: 'outer.inner.steps': must be at most 100, got 500",
            Assert.Throws<SoupInputException>(() => Read("""{"inner": {"steps": 500}}""", Preset)).Message);
        Assert.Equal("x.yaml: 'outer.budget': unknown key; valid here: name, inner",
            Assert.Throws<SoupInputException>(() => Read("""{"budget": 5}""", Preset)).Message);
    }

    [Fact]
    public void Validate_SeesTheValuesThatAreNotKeys()
    {
        SettingsSection.Validate(Preset, "outer");
        Assert.Equal("'outer.name': budget -1 is negative", Assert.Throws<SoupInputException>(() => SettingsSection.Validate(Preset with { Budget = -1 }, "outer")).Message);
    }
}
