namespace RewardedSoups.Learning; internal static class Placeholder { }
