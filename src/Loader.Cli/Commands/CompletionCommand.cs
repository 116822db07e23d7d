using System.CommandLine;
using System.Text;

namespace Loader.Cli.Commands;

/// <summary>
/// <c>loader completion bash</c>: prints a bash completion script written from the command tree itself, so every
/// command and option the tool has completes, and nothing it does not have. Install with
/// <c>source &lt;(loader completion bash)</c> or by saving it under <c>~/.local/share/bash-completion/completions/loader</c>.
/// </summary>
internal static class CompletionCommand
{
    public static Command Create()
    {
        var shell = new Argument<string>("SHELL")
        {
            Description = "The shell to write the script for: bash.",
        };
        shell.AcceptOnlyFromAmong("bash");
        var command = CommonOptions.NewCommand("completion",
            "Print a shell completion script for loader: commands, their options, and file names for FILE arguments. " +
            "Load it with: source <(loader completion bash)",
            "source <(loader completion bash)");
        command.Add(shell);
        command.SetAction(parseResult =>
        {
            parseResult.InvocationConfiguration.Output.Write(Bash(parseResult.RootCommandResult.Command));
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>The bash script: the first word that is not an option picks the command; after it, a word starting
    /// with '-' completes that command's options, anything else a file name.</summary>
    public static string Bash(Command root)
    {
        var script = new StringBuilder();
        script.Append("""
            # bash completion for loader, written by `loader completion bash` from the tool's own command tree.
            _loader_complete() {
                local cur="${COMP_WORDS[COMP_CWORD]}" command="" options="" i
                for ((i = 1; i < COMP_CWORD; i++)); do
                    case "${COMP_WORDS[i]}" in
                        -*) ;;
                        *) command="${COMP_WORDS[i]}"; break ;;
                    esac
                done
                case "$command" in

            """.Replace("\r\n", "\n"));
        script.Append($"        \"\") COMPREPLY=($(compgen -W \"{Words(root.Subcommands.Where(c => !c.Hidden).Select(c => c.Name).Concat(OptionNames(root)))}\" -- \"$cur\")); return ;;\n");
        foreach (var command in root.Subcommands.Where(c => !c.Hidden))
            script.Append($"        {command.Name}) options=\"{Words(OptionNames(command))}\" ;;\n");
        script.Append("""
                    *) options="--help" ;;
                esac
                if [[ "$cur" == -* ]]; then
                    COMPREPLY=($(compgen -W "$options" -- "$cur"))
                else
                    COMPREPLY=($(compgen -f -- "$cur"))
                fi
            }
            complete -o filenames -o bashdefault -F _loader_complete loader

            """.Replace("\r\n", "\n"));
        return script.ToString();
    }

    /// <summary>A command's long options, and --help, which every command takes (the root's help option is recursive).</summary>
    private static IEnumerable<string> OptionNames(Command command) =>
        command.Options.Where(o => !o.Hidden).SelectMany(o => o.Aliases.Prepend(o.Name))
            .Where(n => n.StartsWith("--", StringComparison.Ordinal)).Append("--help").Distinct();

    private static string Words(IEnumerable<string> words) => string.Join(' ', words);
}
