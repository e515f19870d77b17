; Inspection Station - Windows installer (NSIS 3, Modern UI 2, 64-bit).
;
; Build through `python packaging/build.py`, which passes all of this (and makensis -WX:
; a warning is an error):
;   makensis -WX /DVERSION=x.y.z /DDIST_DIR=dist\InspectionStation /DGENERATED_NSH=build\installer_generated.nsh installer.nsi
; Defines:
;   VERSION        required: the project version (inspection_station/_version.py)
;   VERSION_QUAD   optional: numeric a.b.c.d for the file properties and the upgrade check
;   DIST_DIR       the PyInstaller one-folder build (default dist\InspectionStation)
;   GENERATED_NSH  required: the service / firewall / ACL commands (inspection_station/deploy/)
;   OUTFILE        the installer to write (default dist\InspectionStation-VERSION-setup.exe)
;   COMPRESS       lzma (release, default), zlib, bzip2, or off (quick checks)
;   SIGN_COMMAND   optional: signs the uninstaller and the installer ("%1" = the file)
;   NO_CRC_CHECK   quick checks only (build.py --fast): no self-check of the installer's data
;
; Install silently (IT):
;   InspectionStation-x.y.z-setup.exe /S [/NODESKTOPSHORTCUT] [/KIOSK] [/AUTOSTART] [/SERVICE]
;                                        [/FIREWALL] [/FORCE] [/NOSTOP] [/D=C:\Path]
;   /D= must be the last argument and is not quoted, even with spaces.
; Uninstall silently:  "C:\Program Files\InspectionStation\uninstall.exe" /S [/REMOVEUSERDATA]
; The station's data (settings, accounts, audit, results, images) is machine-wide in
; %PROGRAMDATA%\InspectionStation, never under Program Files; it survives upgrades and an
; uninstall unless "Remove the station's data" is ticked (/REMOVEUSERDATA).
; Exit codes: 0 done, 1 cancelled, 2 aborted, 3 refused: a newer version is installed
; (/FORCE installs anyway), 4 refused: the station is running and was not stopped.

Target amd64-unicode
Unicode true

; ---- build-time parameters -------------------------------------------------------------

!ifndef VERSION
  !error "VERSION is not defined: run `python packaging/build.py`, or pass /DVERSION=x.y.z (inspection_station/_version.py)"
!endif
!ifndef GENERATED_NSH
  !error "GENERATED_NSH is not defined: run `python packaging/build.py` (it writes the include from inspection_station/deploy/)"
!endif
!ifndef DIST_DIR
  !define DIST_DIR "dist\InspectionStation"
!endif
!if ! /FileExists "${DIST_DIR}\_internal\*"
  !error "DIST_DIR=${DIST_DIR} holds no PyInstaller build (no _internal folder): build it first with `python packaging/build.py` or pass /DDIST_DIR=..."
!endif
!ifndef OUTFILE
  !define OUTFILE "dist\InspectionStation-${VERSION}-setup.exe"
!endif
!ifndef VERSION_QUAD
  !searchparse /noerrors "${VERSION}.0.0.0" "" V_1 "." V_2 "." V_3 "."
  !define VERSION_QUAD "${V_1}.${V_2}.${V_3}.0"
!endif
!ifndef COMPRESS
  !define COMPRESS "lzma"
!endif
!if "${COMPRESS}" == "off"
  SetCompress off
!else
  SetCompressor /SOLID ${COMPRESS}
!endif
!ifdef NO_CRC_CHECK
  CRCCheck off  ; the self-check reads the whole file first: ~90 s of a wine test per run
!endif
!ifdef SIGN_COMMAND
  !uninstfinalize '${SIGN_COMMAND}'
  !finalize '${SIGN_COMMAND}'
!endif

; ---- names -------------------------------------------------------------------------------

!define APP_NAME "Inspection Station"
!define APP_ID "InspectionStation"             ; folder, registry and data-folder name
!define APP_EXE "InspectionStation.exe"        ; the station (windowed)
!define CLI_EXE "inspection-station.exe"       ; the same commands with a console
!define PUBLISHER "Inspection Station team"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP_ID}"
!define VERSION_KEY "Software\${APP_ID}"       ; Version, VersionQuad, InstallDir, DataRoot
!define SERVICE_KEY "SYSTEM\CurrentControlSet\Services\${APP_ID}"
; The station's data root (core/paths.py) with SetShellVarContext all: %PROGRAMDATA%.
!define DATA_ROOT "$APPDATA\${APP_ID}"
; The per-user folders: the window's geometry, and what version 0.1 kept per user.
!define USER_LAYER "$LOCALAPPDATA\${APP_ID}"
!define KIOSK_LINK "${APP_NAME} (kiosk).lnk"

!include "${GENERATED_NSH}"

Name "${APP_NAME} ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\${APP_ID}"
InstallDirRegKey HKLM "${UNINST_KEY}" "InstallLocation"
RequestExecutionLevel admin
ManifestDPIAware true
BrandingText "${APP_NAME} ${VERSION}"
ShowInstDetails show
ShowUninstDetails show

VIProductVersion "${VERSION_QUAD}"
VIAddVersionKey "ProductName" "${APP_NAME}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "CompanyName" "${PUBLISHER}"
VIAddVersionKey "FileDescription" "${APP_NAME} installer"
VIAddVersionKey "LegalCopyright" "${PUBLISHER}"

!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"
!include "Sections.nsh"
!include "WordFunc.nsh"

Var NoStop  ; /NOSTOP: a running station is not stopped; the installer ends with exit code 4

; ---- pages -------------------------------------------------------------------------------

!define MUI_ICON "resources\icons\app.ico"
!define MUI_UNICON "resources\icons\app.ico"
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_NODESC

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH

!define MUI_COMPONENTSPAGE_TEXT_TOP "The station's settings, accounts, audit trail, results and images are kept unless you tick the box below."
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_COMPONENTS
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"

; ---- a running station (files in use) ------------------------------------------------------

; $1 := 1 when `path` exists and another process has it open (the running station holds its
; programs and its lock files open; a share-nothing open then fails).
!macro IF_OPEN_ELSEWHERE path
  ${If} ${FileExists} "${path}"
    System::Call 'kernel32::CreateFileW(w "${path}", i 0x40000000, i 0, p 0, i 3, i 0x80, p 0) p.r2'
    ${If} $2 = -1
      StrCpy $1 1
    ${Else}
      System::Call 'kernel32::CloseHandle(p r2)'
    ${EndIf}
  ${EndIf}
!macroend

!macro STATION_FUNCTIONS un
  Function ${un}StationInUse  ; $1 := 1 while a station runs from $INSTDIR or on the data root
    StrCpy $1 0
    !insertmacro IF_OPEN_ELSEWHERE "$INSTDIR\${APP_EXE}"
    !insertmacro IF_OPEN_ELSEWHERE "$INSTDIR\${CLI_EXE}"
    FindFirst $3 $4 "${DATA_ROOT}\locks\camera-*.lock"
    ${DoWhile} $4 != ""
      !insertmacro IF_OPEN_ELSEWHERE "${DATA_ROOT}\locks\$4"
      FindNext $3 $4
    ${Loop}
    FindClose $3
  FunctionEnd

  Function ${un}WaitUntilFree  ; up to $5 half-seconds; $1 as StationInUse
    ${Do}
      Call ${un}StationInUse
      ${If} $1 = 0
      ${OrIf} $5 <= 0
        ${Break}
      ${EndIf}
      Sleep 500
      IntOp $5 $5 - 1
    ${Loop}
  FunctionEnd

  ; Stop the service, then ask (interactive) or stop (silent) a running station, so that no
  ; file is in use while it is replaced; ends the installer with exit code 4 when it stays.
  Function ${un}StopRunningStation
    ReadRegStr $0 HKLM "${SERVICE_KEY}" "ImagePath"
    ${If} $0 != ""
      !insertmacro SERVICE_STOP
      StrCpy $5 40  ; until the service's program is closed, 20 s at most
      ${Do}
        StrCpy $1 0
        !insertmacro IF_OPEN_ELSEWHERE "$INSTDIR\${CLI_EXE}"
        ${If} $1 = 0
        ${OrIf} $5 <= 0
          ${Break}
        ${EndIf}
        Sleep 500
        IntOp $5 $5 - 1
      ${Loop}
    ${EndIf}
    Call ${un}StationInUse
    ${If} $1 = 0
      Return
    ${EndIf}
    ${IfNot} ${Silent}
      MessageBox MB_YESNO|MB_ICONEXCLAMATION "${APP_NAME} is running on this PC (its files are in use).$\r$\n$\r$\nStop it now? The running cycle is finished or lost as after a power cut; the results written so far are kept.$\r$\n$\r$\nNo cancels." IDYES stop
      SetErrorLevel 4
      Quit
    ${ElseIf} $NoStop = 1
      DetailPrint "${APP_NAME} is running and /NOSTOP was given: nothing changed"
      SetErrorLevel 4
      Quit
    ${EndIf}
    stop:
    DetailPrint "Stopping the running ${APP_NAME} (asked to close, then ended)"
    nsExec::ExecToLog '"$SYSDIR\taskkill.exe" /IM "${APP_EXE}" /IM "${CLI_EXE}"'
    Pop $0
    StrCpy $5 12  ; 6 s to close (the window stops the station and quits), then ended
    Call ${un}WaitUntilFree
    ${If} $1 = 1
      nsExec::ExecToLog '"$SYSDIR\taskkill.exe" /F /IM "${APP_EXE}" /IM "${CLI_EXE}"'
      Pop $0
      StrCpy $5 20
      Call ${un}WaitUntilFree
    ${EndIf}
    ${If} $1 = 1
      DetailPrint "${APP_NAME} could not be stopped: nothing changed"
      SetErrorLevel 4
      Quit
    ${EndIf}
  FunctionEnd
!macroend
!insertmacro STATION_FUNCTIONS ""
!insertmacro STATION_FUNCTIONS "un."

; ---- install -----------------------------------------------------------------------------

Section "${APP_NAME} (required)" SecApp
  SectionIn RO
  SetShellVarContext all
  Call StopRunningStation
  SetOutPath "$INSTDIR"
  ; An upgrade replaces the libraries as a whole: no stale files from the previous version.
  RMDir /r "$INSTDIR\_internal"
  File /r "${DIST_DIR}\*"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  ; The machine-wide data root: kept over upgrades; its permissions set (again) each time.
  CreateDirectory "${DATA_ROOT}"
  !insertmacro DATA_ROOT_ACL

  CreateDirectory "$SMPROGRAMS\${APP_NAME}"
  CreateShortCut "$SMPROGRAMS\${APP_NAME}\${APP_NAME}.lnk" "$INSTDIR\${APP_EXE}" "" "$INSTDIR\${APP_EXE}" 0
  CreateShortCut "$SMPROGRAMS\${APP_NAME}\Uninstall ${APP_NAME}.lnk" "$INSTDIR\uninstall.exe"

  ; Apps & features entry (64-bit registry view).
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\${APP_EXE},0"
  WriteRegStr HKLM "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKLM "${UNINST_KEY}" "EstimatedSize" "$0"
  ; What is installed where: the upgrade check of the next installer reads it.
  WriteRegStr HKLM "${VERSION_KEY}" "Version" "${VERSION}"
  WriteRegStr HKLM "${VERSION_KEY}" "VersionQuad" "${VERSION_QUAD}"
  WriteRegStr HKLM "${VERSION_KEY}" "InstallDir" "$INSTDIR"
  WriteRegStr HKLM "${VERSION_KEY}" "DataRoot" "${DATA_ROOT}"
SectionEnd

Section "Desktop shortcut" SecDesktop
  SetShellVarContext all
  CreateShortCut "$DESKTOP\${APP_NAME}.lnk" "$INSTDIR\${APP_EXE}" "" "$INSTDIR\${APP_EXE}" 0
SectionEnd

Section /o "Kiosk shortcut (full screen, Quit for engineers)" SecKiosk
  SetShellVarContext all
  CreateShortCut "$SMPROGRAMS\${APP_NAME}\${KIOSK_LINK}" "$INSTDIR\${APP_EXE}" "gui --kiosk" "$INSTDIR\${APP_EXE}" 0
SectionEnd

Section /o "Start at sign-in (every user; in kiosk mode with the kiosk shortcut)" SecAutostart
  SetShellVarContext all
  ${If} ${SectionIsSelected} ${SecKiosk}
    CreateShortCut "$SMSTARTUP\${APP_NAME}.lnk" "$INSTDIR\${APP_EXE}" "gui --kiosk" "$INSTDIR\${APP_EXE}" 0
  ${Else}
    CreateShortCut "$SMSTARTUP\${APP_NAME}.lnk" "$INSTDIR\${APP_EXE}" "" "$INSTDIR\${APP_EXE}" 0
  ${EndIf}
SectionEnd

Section /o "Run `serve` as a Windows service (no window; the [line] settings say what it serves)" SecService
  !insertmacro SERVICE_INSTALL
SectionEnd

Section /o "Firewall rules for the ports the station's settings enable" SecFirewall
  !insertmacro FIREWALL_APPLY
SectionEnd

!macro SELECT_ON_SWITCH switch section
  ClearErrors
  ${GetOptions} $R0 "${switch}" $R1
  ${IfNot} ${Errors}
    !insertmacro SelectSection ${section}
  ${EndIf}
!macroend

Function .onInit
  SetRegView 64
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/NODESKTOPSHORTCUT" $R1
  ${IfNot} ${Errors}
    !insertmacro UnselectSection ${SecDesktop}
  ${EndIf}
  !insertmacro SELECT_ON_SWITCH "/KIOSK" ${SecKiosk}
  !insertmacro SELECT_ON_SWITCH "/AUTOSTART" ${SecAutostart}
  !insertmacro SELECT_ON_SWITCH "/SERVICE" ${SecService}
  !insertmacro SELECT_ON_SWITCH "/FIREWALL" ${SecFirewall}
  StrCpy $NoStop 0
  ClearErrors
  ${GetOptions} $R0 "/NOSTOP" $R1
  ${IfNot} ${Errors}
    StrCpy $NoStop 1
  ${EndIf}

  ; No downgrade unless forced: the data root may already hold what a newer version wrote.
  ReadRegStr $R2 HKLM "${VERSION_KEY}" "VersionQuad"
  ${If} $R2 == ""
    ReadRegStr $R2 HKLM "${UNINST_KEY}" "DisplayVersion"  ; installed by 0.1
  ${EndIf}
  ${If} $R2 != ""
    ${VersionCompare} "${VERSION_QUAD}" "$R2" $R3  ; 2: the installed one is newer
    ClearErrors
    ${GetOptions} $R0 "/FORCE" $R1
    ${If} $R3 = 2
    ${AndIf} ${Errors}
      ${If} ${Silent}
        SetErrorLevel 3
        Quit
      ${EndIf}
      MessageBox MB_YESNO|MB_ICONSTOP|MB_DEFBUTTON2 "A newer ${APP_NAME} ($R2) is installed; this is ${VERSION}.$\r$\n$\r$\nInstall the older version over it anyway?" IDYES downgrade
      SetErrorLevel 3
      Quit
      downgrade:
    ${EndIf}
  ${EndIf}
FunctionEnd

Function .onInstSuccess
  ; A service (new, or stopped for the upgrade) runs the new version now.
  ReadRegStr $0 HKLM "${SERVICE_KEY}" "ImagePath"
  ${If} $0 != ""
    !insertmacro SERVICE_START
  ${EndIf}
FunctionEnd

; ---- uninstall ---------------------------------------------------------------------------

Section "un.${APP_NAME}" UnSecApp
  SectionIn RO
  SetShellVarContext all
  Call un.StopRunningStation
  ReadRegStr $0 HKLM "${SERVICE_KEY}" "ImagePath"
  ${If} $0 != ""
    !insertmacro SERVICE_UNINSTALL
  ${EndIf}
  !insertmacro FIREWALL_REMOVE
  Delete "$DESKTOP\${APP_NAME}.lnk"
  Delete "$SMSTARTUP\${APP_NAME}.lnk"
  Delete "$SMPROGRAMS\${APP_NAME}\${APP_NAME}.lnk"
  Delete "$SMPROGRAMS\${APP_NAME}\${KIOSK_LINK}"
  Delete "$SMPROGRAMS\${APP_NAME}\Uninstall ${APP_NAME}.lnk"
  RMDir "$SMPROGRAMS\${APP_NAME}"

  ; Only what the installer put there: never RMDir /r the chosen folder itself.
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\InspectionStation*"
  Delete "$INSTDIR\inspection-station*"
  Delete "$INSTDIR\build-info.json"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"

  DeleteRegKey HKLM "${UNINST_KEY}"
  DeleteRegKey HKLM "${VERSION_KEY}"
SectionEnd

Section /o "un.Remove the station's data (settings, accounts, audit trail, results, images)" UnSecUserData
  ; The machine-wide data root, for every user of this PC.
  SetShellVarContext all
  RMDir /r "${DATA_ROOT}"
  ; This user's own folder: the window's geometry (and what version 0.1 kept per user).
  SetShellVarContext current
  RMDir /r "${USER_LAYER}"
SectionEnd

Function un.onInit
  SetRegView 64
  StrCpy $NoStop 0
  ; Silent uninstalls: /REMOVEUSERDATA also removes the station's data.
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/REMOVEUSERDATA" $R1
  ${IfNot} ${Errors}
    !insertmacro SelectSection ${UnSecUserData}
  ${EndIf}
FunctionEnd
