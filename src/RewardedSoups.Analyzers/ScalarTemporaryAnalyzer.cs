using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace RewardedSoups.Analyzers;

/// <summary>
/// SOUP001: a TorchSharp <c>Scalar</c> made as a temporary (an implicit conversion such as <c>x * 0.5</c> or
/// <c>add_(g, alpha: 0.1)</c>, or a <c>ToScalar()</c> call passed on directly). TorchSharp hands the Scalar's
/// native handle to libtorch without <c>GC.KeepAlive</c>, so once the handle is read the temporary is
/// unreachable; a garbage collection started by another thread during the native call finalizes it and
/// frees the native Scalar while libtorch reads it (a corrupted type tag: "toFloat at Scalar.h", or a
/// wrong value). A Scalar is safe when it lives in a field or in a <c>using</c> local, which stay reachable
/// for the whole call. The fix: <c>using Scalar half = 0.5.ToScalar();</c> then <c>x * half</c>, or a
/// <c>static readonly Scalar</c> for a constant used on a hot path.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ScalarTemporaryAnalyzer : DiagnosticAnalyzer
{
    public static readonly DiagnosticDescriptor Rule = new(
        "SOUP001",
        "TorchSharp Scalar temporary",
        "{0} makes a TorchSharp Scalar temporary, which can be finalized while libtorch reads it; hold it in a 'using Scalar' local or a static readonly field",
        "Reliability",
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        HelpLine);

    private const string HelpLine = "TorchSharp passes Scalar handles to native code without GC.KeepAlive (docs/architecture.md, 'TorchSharp Scalars').";

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => ImmutableArray.Create(Rule);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            INamedTypeSymbol? scalar = start.Compilation.GetTypeByMetadataName("TorchSharp.Scalar");
            if (scalar is null) return;
            start.RegisterOperationAction(c => CheckConversion(c, scalar), OperationKind.Conversion);
            start.RegisterOperationAction(c => CheckInvocation(c, scalar), OperationKind.Invocation);
        });
    }

    private static void CheckConversion(OperationAnalysisContext context, INamedTypeSymbol scalar)
    {
        var conversion = (IConversionOperation)context.Operation;
        if (!SymbolEqualityComparer.Default.Equals(conversion.Type, scalar)) return;
        if (conversion.Operand.Type is null || SymbolEqualityComparer.Default.Equals(conversion.Operand.Type, scalar)) return;
        if (!conversion.Conversion.IsUserDefined) return;
        if (IsHeld(conversion)) return;
        context.ReportDiagnostic(Diagnostic.Create(Rule, conversion.Syntax.GetLocation(), $"'{conversion.Syntax}' (implicit conversion to Scalar)"));
    }

    private static void CheckInvocation(OperationAnalysisContext context, INamedTypeSymbol scalar)
    {
        var invocation = (IInvocationOperation)context.Operation;
        if (invocation.TargetMethod.Name != "ToScalar" || !SymbolEqualityComparer.Default.Equals(invocation.Type, scalar)) return;
        if (IsHeld(invocation)) return;
        context.ReportDiagnostic(Diagnostic.Create(Rule, invocation.Syntax.GetLocation(), $"'{invocation.Syntax}'"));
    }

    /// <summary>The new Scalar initialises a field, a property or a <c>using</c> local (possibly through a conditional).</summary>
    private static bool IsHeld(IOperation made)
    {
        IOperation? parent = made.Parent;
        while (parent is IConversionOperation or IParenthesizedOperation or IConditionalOperation or ICoalesceOperation) parent = parent.Parent;
        switch (parent)
        {
            case IFieldInitializerOperation:
            case IPropertyInitializerOperation:
                return true;
            case IVariableInitializerOperation { Parent: IVariableDeclaratorOperation { Parent: IVariableDeclarationOperation { Parent: IVariableDeclarationGroupOperation group } } }:
                return group.Parent is IUsingDeclarationOperation or IUsingOperation;
            case ISimpleAssignmentOperation { Target: IFieldReferenceOperation }:
                return true;
            default:
                return false;
        }
    }
}
