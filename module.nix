# NixOS module for ai-sysadmin: services.ai-sysadmin.
#
# The options, the llama-trigger / llama-review / llama-meta / ai-sysadmin-api units and the main
# ${aiName}-ai unit are the deployment issue's work (issue 6). Until then this module declares nothing, so
# importing it is harmless; the daemon's configuration format it will generate is docs/CONFIGURATION.md.
{ config, lib, pkgs, ... }:
{
}
