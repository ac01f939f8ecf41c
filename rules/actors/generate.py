# ruff: noqa: E501  (the data tables keep one row a line)
"""Writes the shipped actor dictionaries (countries.yaml, organizations.yaml) from PETRARCH2.

    python rules/actors/generate.py \\
        ../shared/corpus/actors/petrarch2/Phoenix.Countries.actors.txt \\
        ../shared/corpus/actors/petrarch2/Phoenix.International.actors.txt [--out rules/actors]

Not run at runtime nor by the tests: its output is committed. The tables below say which actors
exist, their display names, capitals, demonyms, modern and Russian names (our own facts); the
PETRARCH2 TABARI dictionaries add the alternate names and spellings. ATTRIBUTION.md explains the
selection rules applied here.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

COUNTRIES_SOURCE = "petrarch2/Phoenix.Countries.actors.txt"
INTERNATIONAL_SOURCE = "petrarch2/Phoenix.International.actors.txt"
PETRARCH_COMMIT = "676801cd9cb2"

# code | id | name | capitals | demonyms | more names. Codes are PETRARCH's (ISO 3166 alpha-3,
# except TMP for Timor-Leste; "-" where PETRARCH has no block). "=" before a name makes it
# case-sensitive: "Turkey" the country, never "turkey" the bird. "-" before a capital keeps it
# out of the names (it is in the description): "Malé" is the word "male" once accents fold.
COUNTRY_TABLE = """
AFG | afghanistan | Afghanistan | Kabul | Afghan, Afghans | Islamic Republic of Afghanistan, Islamic Emirate of Afghanistan
ALB | albania | Albania | Tirana, Tirane | Albanian, Albanians | Republic of Albania
DZA | algeria | Algeria | Algiers | Algerian, Algerians | People's Democratic Republic of Algeria
AND | andorra | Andorra | Andorra la Vella | Andorran, Andorrans | Principality of Andorra
AGO | angola | Angola | Luanda | Angolan, Angolans | Republic of Angola
ATG | antigua-and-barbuda | Antigua and Barbuda | -St. John's | Antiguan, Barbudan, Antiguans, Barbudans | Antigua
ARG | argentina | Argentina | Buenos Aires | Argentine, Argentinian, Argentines, Argentinians | Argentine Republic
ARM | armenia | Armenia | Yerevan | Armenian, Armenians | Republic of Armenia
AUS | australia | Australia | Canberra | Australian, Australians | Commonwealth of Australia
AUT | austria | Austria | Vienna | Austrian, Austrians | Republic of Austria
AZE | azerbaijan | Azerbaijan | Baku | Azerbaijani, Azerbaijanis, Azeri, Azeris | Republic of Azerbaijan
BHS | bahamas | Bahamas | Nassau | Bahamian, Bahamians | Commonwealth of The Bahamas
BHR | bahrain | Bahrain | Manama | Bahraini, Bahrainis | Kingdom of Bahrain
BGD | bangladesh | Bangladesh | Dhaka | Bangladeshi, Bangladeshis | People's Republic of Bangladesh
BRB | barbados | Barbados | Bridgetown | Barbadian, Barbadians, Bajan, Bajans |
BLR | belarus | Belarus | Minsk | Belarusian, Belarusians, Belarussian | Republic of Belarus, Byelorussia
BEL | belgium | Belgium | Brussels | Belgian, Belgians | Kingdom of Belgium
BLZ | belize | Belize | Belmopan | Belizean, Belizeans |
BEN | benin | Benin | Porto-Novo, Cotonou | Beninese | Republic of Benin
BTN | bhutan | Bhutan | Thimphu | Bhutanese | Kingdom of Bhutan
BOL | bolivia | Bolivia | =La Paz, =Sucre | Bolivian, Bolivians | Plurinational State of Bolivia
BIH | bosnia-and-herzegovina | Bosnia and Herzegovina | Sarajevo | Bosnian, Bosnians, Herzegovinian | Bosnia-Herzegovina, Bosnia
BWA | botswana | Botswana | Gaborone | Motswana, Batswana, Botswanan | Republic of Botswana
BRA | brazil | Brazil | Brasília | Brazilian, Brazilians | Federative Republic of Brazil
BRN | brunei | Brunei | Bandar Seri Begawan | Bruneian, Bruneians | Brunei Darussalam
BGR | bulgaria | Bulgaria | Sofia | Bulgarian, Bulgarians | Republic of Bulgaria
BFA | burkina-faso | Burkina Faso | Ouagadougou | Burkinabe, Burkinabé |
BDI | burundi | Burundi | Gitega, Bujumbura | Burundian, Burundians | Republic of Burundi
KHM | cambodia | Cambodia | Phnom Penh | Cambodian, Cambodians | Kingdom of Cambodia
CMR | cameroon | Cameroon | Yaoundé | Cameroonian, Cameroonians | Republic of Cameroon
CAN | canada | Canada | Ottawa | Canadian, Canadians |
CPV | cabo-verde | Cabo Verde | =Praia | Cabo Verdean, Cape Verdean, Cabo Verdeans, Cape Verdeans | Cape Verde
CAF | central-african-republic | Central African Republic | Bangui | Central African, Central Africans |
TCD | chad | =Chad | N'Djamena | Chadian, Chadians | Republic of Chad
CHL | chile | =Chile | Santiago | Chilean, Chileans | Republic of Chile
CHN | china | =China | Beijing | Chinese | People's Republic of China, =PRC
COL | colombia | Colombia | Bogotá | Colombian, Colombians | Republic of Colombia
COM | comoros | Comoros | Moroni | Comorian, Comorians | Union of the Comoros
COG | republic-of-the-congo | Republic of the Congo | Brazzaville | Congolese | Congo-Brazzaville, =Congo
COD | dr-congo | DR Congo | Kinshasa | Congolese | Democratic Republic of the Congo, =DRC, Congo-Kinshasa, =Congo
CRI | costa-rica | Costa Rica | -San José | Costa Rican, Costa Ricans | Republic of Costa Rica
CIV | cote-divoire | Côte d'Ivoire | Yamoussoukro, Abidjan | Ivorian, Ivorians | Ivory Coast
HRV | croatia | Croatia | Zagreb | Croatian, Croatians, Croats | Republic of Croatia
CUB | cuba | Cuba | Havana | Cuban, Cubans | Republic of Cuba
CYP | cyprus | Cyprus | Nicosia | Cypriot, Cypriots | Republic of Cyprus
CZE | czechia | Czechia | Prague | Czech, Czechs | Czech Republic
DNK | denmark | Denmark | Copenhagen | =Danish, Danes | Kingdom of Denmark
DJI | djibouti | Djibouti | Djibouti | Djiboutian, Djiboutians | Republic of Djibouti
DMA | dominica | Dominica | =Roseau | | Commonwealth of Dominica
DOM | dominican-republic | Dominican Republic | Santo Domingo | Dominican, Dominicans |
ECU | ecuador | Ecuador | Quito | Ecuadorian, Ecuadorians, Ecuadorean | Republic of Ecuador
EGY | egypt | Egypt | Cairo | Egyptian, Egyptians | Arab Republic of Egypt
SLV | el-salvador | El Salvador | San Salvador | Salvadoran, Salvadorans, Salvadorean |
GNQ | equatorial-guinea | Equatorial Guinea | Malabo | Equatorial Guinean, Equatoguinean |
ERI | eritrea | Eritrea | Asmara | Eritrean, Eritreans | State of Eritrea
EST | estonia | Estonia | Tallinn | Estonian, Estonians | Republic of Estonia
SWZ | eswatini | Eswatini | Mbabane, Lobamba | Swazi, Swazis | Swaziland, Kingdom of Eswatini
ETH | ethiopia | Ethiopia | Addis Ababa | Ethiopian, Ethiopians | Federal Democratic Republic of Ethiopia
FJI | fiji | Fiji | Suva | Fijian, Fijians | Republic of Fiji
FIN | finland | Finland | Helsinki | Finnish, Finns | Republic of Finland
FRA | france | France | Paris | =French, Frenchman, Frenchwoman | French Republic
GAB | gabon | Gabon | Libreville | Gabonese | Gabonese Republic
GMB | gambia | Gambia | Banjul | Gambian, Gambians | Republic of The Gambia
GEO | georgia | Georgia | Tbilisi | Georgian, Georgians | Sakartvelo
DEU | germany | Germany | Berlin | German, Germans | Federal Republic of Germany
GHA | ghana | Ghana | Accra | Ghanaian, Ghanaians | Republic of Ghana
GRC | greece | Greece | Athens | Greek, Greeks | Hellenic Republic
GRD | grenada | Grenada | -St. George's | Grenadian, Grenadians |
GTM | guatemala | Guatemala | Guatemala City | Guatemalan, Guatemalans | Republic of Guatemala
GIN | guinea | =Guinea | Conakry | Guinean, Guineans | Republic of Guinea, Guinea-Conakry
GNB | guinea-bissau | Guinea-Bissau | Bissau | Bissau-Guinean, Bissau-Guineans | Republic of Guinea-Bissau
GUY | guyana | Guyana | -Georgetown | Guyanese | Co-operative Republic of Guyana
HTI | haiti | Haiti | Port-au-Prince | Haitian, Haitians | Republic of Haiti
HND | honduras | Honduras | Tegucigalpa | Honduran, Hondurans | Republic of Honduras
HUN | hungary | Hungary | Budapest | Hungarian, Hungarians |
ISL | iceland | Iceland | Reykjavík | Icelandic, Icelander, Icelanders |
IND | india | India | New Delhi | Indian, Indians | Republic of India, Bharat
IDN | indonesia | Indonesia | Jakarta | Indonesian, Indonesians | Republic of Indonesia
IRN | iran | Iran | Tehran, Teheran | Iranian, Iranians | Islamic Republic of Iran, Persia
IRQ | iraq | Iraq | Baghdad | Iraqi, Iraqis | Republic of Iraq
IRL | ireland | Ireland | Dublin | Irish | Republic of Ireland, Eire
ISR | israel | Israel | Jerusalem | Israeli, Israelis | State of Israel
ITA | italy | Italy | Rome | Italian, Italians | Italian Republic
JAM | jamaica | Jamaica | Kingston | Jamaican, Jamaicans |
JPN | japan | Japan | Tokyo | Japanese |
JOR | jordan | =Jordan | Amman | Jordanian, Jordanians | Hashemite Kingdom of Jordan
KAZ | kazakhstan | Kazakhstan | Astana, Nur-Sultan | Kazakh, Kazakhs, Kazakhstani, Kazakhstanis | Republic of Kazakhstan
KEN | kenya | Kenya | Nairobi | Kenyan, Kenyans | Republic of Kenya
KIR | kiribati | Kiribati | Tarawa, South Tarawa | I-Kiribati | Republic of Kiribati
KWT | kuwait | Kuwait | Kuwait City | Kuwaiti, Kuwaitis | State of Kuwait
KGZ | kyrgyzstan | Kyrgyzstan | Bishkek | Kyrgyz, Kyrgyzstani | Kyrgyz Republic, Kirghizia
LAO | laos | Laos | Vientiane | Laotian, Laotians | Lao People's Democratic Republic, =Lao PDR
LVA | latvia | Latvia | Riga | Latvian, Latvians | Republic of Latvia
LBN | lebanon | Lebanon | Beirut | Lebanese | Lebanese Republic
LSO | lesotho | Lesotho | Maseru | Basotho, Mosotho | Kingdom of Lesotho
LBR | liberia | Liberia | Monrovia | Liberian, Liberians | Republic of Liberia
LBY | libya | Libya | Tripoli | Libyan, Libyans | State of Libya
LIE | liechtenstein | Liechtenstein | Vaduz | Liechtensteiner, Liechtensteiners | Principality of Liechtenstein
LTU | lithuania | Lithuania | Vilnius | Lithuanian, Lithuanians | Republic of Lithuania
LUX | luxembourg | Luxembourg | Luxembourg | Luxembourger, Luxembourgers, Luxembourgish | Grand Duchy of Luxembourg
MDG | madagascar | Madagascar | Antananarivo | Malagasy | Republic of Madagascar
MWI | malawi | Malawi | Lilongwe | Malawian, Malawians | Republic of Malawi
MYS | malaysia | Malaysia | Kuala Lumpur, Putrajaya | Malaysian, Malaysians |
MDV | maldives | Maldives | -Malé | Maldivian, Maldivians | Republic of Maldives
MLI | mali | Mali | Bamako | Malian, Malians | Republic of Mali
MLT | malta | Malta | Valletta | Maltese | Republic of Malta
MHL | marshall-islands | Marshall Islands | Majuro | Marshallese | Republic of the Marshall Islands
MRT | mauritania | Mauritania | Nouakchott | Mauritanian, Mauritanians | Islamic Republic of Mauritania
MUS | mauritius | Mauritius | Port Louis | Mauritian, Mauritians | Republic of Mauritius
MEX | mexico | Mexico | Mexico City | Mexican, Mexicans | United Mexican States
FSM | micronesia | Micronesia | Palikir | Micronesian, Micronesians | Federated States of Micronesia
MDA | moldova | Moldova | Chișinău, Chisinau | Moldovan, Moldovans | Republic of Moldova, Moldavia
MCO | monaco | Monaco | Monaco | Monegasque, Monégasque | Principality of Monaco
MNG | mongolia | Mongolia | Ulaanbaatar, Ulan Bator | Mongolian, Mongolians |
MNE | montenegro | Montenegro | Podgorica | Montenegrin, Montenegrins |
MAR | morocco | Morocco | Rabat | Moroccan, Moroccans | Kingdom of Morocco
MOZ | mozambique | Mozambique | Maputo | Mozambican, Mozambicans | Republic of Mozambique
MMR | myanmar | Myanmar | Naypyidaw, Nay Pyi Taw | Burmese | Burma, Republic of the Union of Myanmar
NAM | namibia | Namibia | Windhoek | Namibian, Namibians | Republic of Namibia
NRU | nauru | Nauru | Yaren | Nauruan, Nauruans | Republic of Nauru
NPL | nepal | Nepal | Kathmandu | Nepali, Nepalese, Nepalis | Federal Democratic Republic of Nepal
NLD | netherlands | Netherlands | Amsterdam, The Hague | =Dutch | Kingdom of the Netherlands
NZL | new-zealand | New Zealand | Wellington | New Zealander, New Zealanders | Aotearoa
NIC | nicaragua | Nicaragua | Managua | Nicaraguan, Nicaraguans | Republic of Nicaragua
NER | niger | Niger | Niamey | Nigerien, Nigeriens | Republic of the Niger
NGA | nigeria | Nigeria | Abuja | Nigerian, Nigerians | Federal Republic of Nigeria
PRK | north-korea | North Korea | Pyongyang | North Korean, North Koreans | Democratic People's Republic of Korea, =DPRK
MKD | north-macedonia | North Macedonia | Skopje | Macedonian, Macedonians | Republic of North Macedonia, Macedonia
NOR | norway | Norway | Oslo | Norwegian, Norwegians | Kingdom of Norway
OMN | oman | Oman | =Muscat | Omani, Omanis | Sultanate of Oman
PAK | pakistan | Pakistan | Islamabad | Pakistani, Pakistanis | Islamic Republic of Pakistan
PLW | palau | Palau | Ngerulmud | Palauan, Palauans | Republic of Palau
PAN | panama | =Panama | Panama City | Panamanian, Panamanians | Republic of Panama
PNG | papua-new-guinea | Papua New Guinea | Port Moresby | Papua New Guinean, Papua New Guineans |
PRY | paraguay | Paraguay | =Asunción | Paraguayan, Paraguayans | Republic of Paraguay
PER | peru | Peru | =Lima | Peruvian, Peruvians | Republic of Peru
PHL | philippines | Philippines | Manila | Filipino, Filipinos, Filipina, Philippine | Republic of the Philippines
POL | poland | Poland | Warsaw | =Polish, =Poles | Republic of Poland
PRT | portugal | Portugal | Lisbon | Portuguese | Portuguese Republic
QAT | qatar | Qatar | Doha | Qatari, Qataris | State of Qatar
KOR | south-korea | South Korea | Seoul | South Korean, South Koreans | Republic of Korea, =ROK
ROU | romania | Romania | Bucharest | Romanian, Romanians |
RUS | russia | Russia | Moscow | Russian, Russians | Russian Federation, Kremlin
RWA | rwanda | Rwanda | Kigali | Rwandan, Rwandans | Republic of Rwanda
KNA | saint-kitts-and-nevis | Saint Kitts and Nevis | Basseterre | Kittitian, Nevisian, Kittitians, Nevisians | St Kitts and Nevis
LCA | saint-lucia | Saint Lucia | Castries | Saint Lucian, Saint Lucians | St Lucia
VCT | saint-vincent-and-the-grenadines | Saint Vincent and the Grenadines | Kingstown | Vincentian, Vincentians | St Vincent and the Grenadines
WSM | samoa | Samoa | Apia | Samoan, Samoans | Independent State of Samoa
SMR | san-marino | San Marino | San Marino | Sammarinese | Republic of San Marino
STP | sao-tome-and-principe | São Tomé and Príncipe | São Tomé | Santomean, Santomeans | Sao Tome
SAU | saudi-arabia | Saudi Arabia | Riyadh | Saudi, Saudis, Saudi Arabian | Kingdom of Saudi Arabia, =KSA
SEN | senegal | Senegal | Dakar | Senegalese | Republic of Senegal
SRB | serbia | Serbia | Belgrade | Serbian, Serbians, Serbs | Republic of Serbia
SYC | seychelles | Seychelles | -Victoria | Seychellois | Republic of Seychelles
SLE | sierra-leone | Sierra Leone | Freetown | Sierra Leonean, Sierra Leoneans | Republic of Sierra Leone
SGP | singapore | Singapore | Singapore | Singaporean, Singaporeans | Republic of Singapore
SVK | slovakia | Slovakia | Bratislava | Slovak, Slovaks, Slovakian | Slovak Republic
SVN | slovenia | Slovenia | Ljubljana | Slovenian, Slovenians, Slovene, Slovenes | Republic of Slovenia
SLB | solomon-islands | Solomon Islands | Honiara | Solomon Islander, Solomon Islanders |
SOM | somalia | Somalia | Mogadishu | Somali, Somalis | Federal Republic of Somalia
ZAF | south-africa | South Africa | Pretoria, Cape Town, Bloemfontein | South African, South Africans | Republic of South Africa
SSD | south-sudan | South Sudan | Juba | South Sudanese | Republic of South Sudan
ESP | spain | Spain | Madrid | Spanish, Spaniard, Spaniards | Kingdom of Spain
LKA | sri-lanka | Sri Lanka | Sri Jayawardenepura Kotte, Colombo | Sri Lankan, Sri Lankans | Ceylon
SDN | sudan | Sudan | Khartoum | Sudanese | Republic of the Sudan
SUR | suriname | Suriname | Paramaribo | Surinamese | Republic of Suriname, Surinam
SWE | sweden | Sweden | Stockholm | Swedish, Swede, Swedes | Kingdom of Sweden
CHE | switzerland | Switzerland | Bern, Berne | Swiss | Swiss Confederation
SYR | syria | Syria | Damascus | Syrian, Syrians | Syrian Arab Republic
TJK | tajikistan | Tajikistan | Dushanbe | Tajik, Tajiks, Tajikistani, Tadzhik | Republic of Tajikistan
TZA | tanzania | Tanzania | Dodoma, Dar es Salaam | Tanzanian, Tanzanians | United Republic of Tanzania
THA | thailand | Thailand | Bangkok | Thai, Thais | Kingdom of Thailand, Siam
TMP | timor-leste | Timor-Leste | Dili | Timorese | East Timor, Democratic Republic of Timor-Leste
TGO | togo | Togo | Lomé | Togolese | Togolese Republic
TON | tonga | Tonga | Nuku'alofa | Tongan, Tongans | Kingdom of Tonga
TTO | trinidad-and-tobago | Trinidad and Tobago | Port of Spain | Trinidadian, Tobagonian, Trinidadians, Tobagonians | Trinidad
TUN | tunisia | Tunisia | Tunis | Tunisian, Tunisians | Republic of Tunisia
TUR | turkey | =Turkey | Ankara | Turkish, Turks | Türkiye, Republic of Türkiye, Republic of Turkey
TKM | turkmenistan | Turkmenistan | Ashgabat | Turkmen, Turkmens |
TUV | tuvalu | Tuvalu | Funafuti | Tuvaluan, Tuvaluans |
UGA | uganda | Uganda | Kampala | Ugandan, Ugandans | Republic of Uganda
UKR | ukraine | Ukraine | Kyiv, Kiev | Ukrainian, Ukrainians |
ARE | united-arab-emirates | United Arab Emirates | Abu Dhabi | Emirati, Emiratis | =UAE
GBR | united-kingdom | United Kingdom | London | British, Briton, Britons | Britain, Great Britain, =UK, =U.K., United Kingdom of Great Britain and Northern Ireland
USA | united-states | United States | Washington | American, Americans | United States of America, =US, =U.S., =USA, =U.S.A.
URY | uruguay | Uruguay | Montevideo | Uruguayan, Uruguayans | Oriental Republic of Uruguay
UZB | uzbekistan | Uzbekistan | Tashkent | Uzbek, Uzbeks, Uzbekistani | Republic of Uzbekistan
VUT | vanuatu | Vanuatu | Port Vila | Ni-Vanuatu | Republic of Vanuatu
VEN | venezuela | Venezuela | Caracas | Venezuelan, Venezuelans | Bolivarian Republic of Venezuela
VNM | vietnam | Vietnam | Hanoi | Vietnamese | Viet Nam, Socialist Republic of Vietnam
YEM | yemen | Yemen | Sanaa, Sana'a | Yemeni, Yemenis | Republic of Yemen
ZMB | zambia | Zambia | Lusaka | Zambian, Zambians | Republic of Zambia
ZWE | zimbabwe | Zimbabwe | Harare | Zimbabwean, Zimbabweans | Republic of Zimbabwe
PSE | palestine | Palestine | Ramallah, East Jerusalem | Palestinian, Palestinians | State of Palestine, Palestinian Territories, Palestinian Authority
- | vatican | Holy See | Vatican City | | Vatican
KSV | kosovo | Kosovo | Pristina, Prishtina | Kosovar, Kosovars, Kosovan | Republic of Kosovo
TWN | taiwan | Taiwan | Taipei | Taiwanese | Formosa
"""

# The 193 UN member states; the other rows (observers, partly recognised states) are extra.
NON_MEMBERS = frozenset({"palestine", "vatican", "kosovo", "taiwan"})

# Russian names (our own), inflected by prefix: "Армени*" is Армения, Армении, Армению, ...
# A stem is chosen so that it is not the start of an unrelated common word ("Инди*" would be).
RUSSIAN: dict[str, list[str | dict[str, str]]] = {
    "armenia": ["Армени*", "Армян*", "Ереван*"],
    "azerbaijan": ["Азербайджан*", "Азербайджанц*", "Баку"],
    "russia": ["Росси*", "Москв*", "Кремл*", "Российская Федерация"],
    "belarus": ["Беларус*", "Белорус*", "Минск*"],
    "ukraine": ["Украин*", "Киев*"],
    "georgia": ["Грузия", "Грузии", "Грузию", "Грузией", "Грузин*", "Тбилиси"],
    "kazakhstan": ["Казахстан*", "Астан*"],
    "kyrgyzstan": ["Киргиз*", "Кыргыз*", "Бишкек*"],
    "tajikistan": ["Таджик*", "Душанбе"],
    "uzbekistan": ["Узбек*", "Ташкент*"],
    "turkmenistan": ["Туркмен*", "Ашхабад*"],
    "moldova": ["Молдави*", "Молдов*", "Кишин*"],
    "united-states": [{"term": "США", "case": "sensitive"}, "Соединённые Штаты", "Вашингтон*"],
    "china": ["Китай", "Китая", "Китаю", "Китаем", "Китае", "Китайск*", "КНР", "Пекин*"],
    "turkey": ["Турци*", "Турецк*", "Анкар*"],
    "iran": ["Иран*", "Тегеран*"],
    "israel": ["Израил*"],
    "germany": ["Германи*", "ФРГ", "Берлин*"],
    "france": ["Франци*", "Французск*", "Париж*"],
    "united-kingdom": ["Великобритани*", "Британи*", "Британск*", "Лондон*"],
    "india": ["Индия", "Индии", "Индию", "Индией", "Индийск*", "Нью-Дели"],
    "japan": ["Япони*", "Японск*", "Токио"],
    "poland": ["Польш*", "Польск*", "Варшав*"],
    "finland": ["Финлянди*", "Финск*", "Хельсинки"],
    "syria": ["Сири*", "Дамаск*"],
    "egypt": ["Египет", "Египт*", "Каир*"],
    "italy": ["Итали*", "Итальянск*"],
    "spain": ["Испани*", "Испанск*", "Мадрид*"],
    "north-korea": ["КНДР", "Северная Корея", "Северной Кореи", "Северную Корею", "Пхеньян*"],
    "south-korea": ["Южная Корея", "Южной Кореи", "Южную Корею", "Республика Корея", "Сеул*"],
    "latvia": ["Латви*", "Латвийск*"],
    "lithuania": ["Литв*", "Литовск*"],
    "estonia": ["Эстони*", "Эстонск*"],
    "afghanistan": ["Афганистан*"],
    "iraq": ["Ирак*"],
    "saudi-arabia": ["Саудовская Аравия", "Саудовской Аравии", "Саудовскую Аравию", "Эр-Рияд*"],
    "united-arab-emirates": ["ОАЭ"],
    "serbia": ["Серби*", "Сербск*", "Белград*"],
    "hungary": ["Венгри*", "Венгерск*"],
    "brazil": ["Бразили*"],
    "south-africa": ["ЮАР"],
    "vietnam": ["Вьетнам*"],
    "pakistan": ["Пакистан*"],
    "mongolia": ["Монголи*"],
}

# Organisations: id | kind | display name | PETRARCH entries to take | more names (our own).
ORGANISATION_TABLE = """
un | United Nations | THE_UNITED_NATIONS_, UNITED_NATIONS_, THE_UN_ | =UN, =U.N., ООН
unsc | UN Security Council | UN_SECURITY_COUNCIL_, U.N._SECURITY_COUNCIL | United Nations Security Council, =UNSC, Совбез ООН, Совет Безопасности ООН, Совета Безопасности ООН, =СБ ООН
unga | UN General Assembly | UN_GENERAL_ASSEMBLY_ | United Nations General Assembly, =UNGA, Генассамблея ООН, Генассамблеи ООН, Генеральная Ассамблея ООН
un-secretary-general | UN Secretary-General | UN_SECRETARY_GENERAL | United Nations Secretary-General, Генсек ООН, Генсека ООН, Генеральный секретарь ООН
unhrc | UN Human Rights Council | | United Nations Human Rights Council, =UNHRC
unhcr | UNHCR | UNHCR_, UN_HIGH_COMMISSION_FOR_REFUGEES_ | UN Refugee Agency, United Nations High Commissioner for Refugees
unicef | UNICEF | UNICEF_, UNITED_NATIONS_CHILDREN'S_FUND_ | UN Children's Fund
unesco | UNESCO | UNESCO_, UNITED_NATIONS_EDUCATIONAL,_SCIENTIFIC_AND_CULTURAL_ORGANIZATION_ | ЮНЕСКО
undp | UNDP | UNDP_ | United Nations Development Programme
wfp | World Food Programme | WORLD_FOOD_PROGRAM_ | =WFP
fao | Food and Agriculture Organization | FOOD_AND_AGRICULTURE_ORGANIZATION_, UNITED_NATIONS_FOOD_AND_AGRICULTURE_ORGANIZATION_ | =FAO
ilo | International Labour Organization | INTERNATIONAL_LABOR_ORGANIZATION_, INTERNATIONAL_LABOUR_ORGANIZATION_ | =ILO
who | World Health Organization | WORLD_HEALTH_ORGANIZATION_ | World Health Organisation, =WHO, =ВОЗ
iaea | IAEA | IAEA_, INTERNATIONAL_ATOMIC_ENERGY_AGENCY_ | МАГАТЭ
icj | International Court of Justice | INTERNATIONAL_COURT_OF_JUSTICE_, ICJ_ | World Court, Международный суд ООН
icc | International Criminal Court | | Международный уголовный суд, =МУС
ipcc | IPCC | INTER_GOVERNMENTAL_PANEL_ON_CLIMATE_CHANGE_, INTERGOVERNMENTAL_PANEL_ON_CLIMATE_CHANGE_ |
imf | IMF | IMF_ | International Monetary Fund, =МВФ
world-bank | World Bank | WORLD_BANK_ | Всемирный банк, Всемирного банка, Всемирному банку, Всемирным банком
wto | World Trade Organization | | World Trade Organisation, =WTO, =ВТО
eu | European Union | THE_EUROPEAN_UNION_ | =EU, =E.U., Евросоюз*, =ЕС
european-commission | European Commission | EUROPEAN_COMMISSION_ | Еврокомисси*
european-parliament | European Parliament | EUROPEAN_PARLIAMENT_ | Европарламент*
european-council | European Council | | Council of the European Union, Council of the EU
ecb | European Central Bank | | =ECB, =ЕЦБ
nato | NATO | NATO_ | North Atlantic Alliance, Atlantic Alliance, НАТО
osce | OSCE | ORGANIZATION_FOR_SECURITY_AND_COOPERATION_IN_EUROPE_, ORGANIZATION_FOR_SECURITY_AND_CO-OPERATION_IN_EUROPE_, ORGANISATION_FOR_SECURITY_AND_COOPERATION_IN_EUROPE_, ORGANISATION_FOR_SECURITY_AND_CO-OPERATION_IN_EUROPE_ | ОБСЕ
council-of-europe | Council of Europe | COUNCIL_OF_EUROPE_ | Совет Европы
csto | CSTO | | Collective Security Treaty Organization, Collective Security Treaty Organisation, ОДКБ
cis | Commonwealth of Independent States | COMMONWEALTH_OF_INDEPENDENT_STATES_ | =CIS, СНГ
eaeu | Eurasian Economic Union | | EAEU, =EEU, ЕАЭС
sco | Shanghai Cooperation Organization | SHANGHAI_COOPERATION_ORGANIZATION_ | Shanghai Cooperation Organisation, =SCO, ШОС
brics | BRICS | | БРИКС
g7 | =G7 | GROUP_OF_SEVEN_ | =G-7, Group of Seven, Большая семёрка, Большой семёрки
g20 | G20 | | =G-20, Group of Twenty, Большая двадцатка, Большой двадцатки
african-union | African Union | | Африканский союз, Африканского союза
asean | ASEAN | ASEAN_, ASSOCIATION_OF_SOUTHEAST_ASIAN_NATIONS_, ASSOCIATION_OF_SOUTH_EAST_ASIAN_NATIONS_ | АСЕАН
opec | OPEC | ORGANIZATION_OF_PETROLEUM_EXPORTING_COUNTRIES_ | Organisation of the Petroleum Exporting Countries, Organization of the Petroleum Exporting Countries, OPEC+, ОПЕК
arab-league | Arab League | ARAB_LEAGUE_ | League of Arab States, Лига арабских государств, Лиги арабских государств
gcc | Gulf Cooperation Council | | Cooperation Council for the Arab States of the Gulf, =GCC
oic | Organisation of Islamic Cooperation | ORGANIZATION_OF_ISLAMIC_CONFERENCES_, ORGANIZATION_OF_THE_ISLAMIC_CONFERENCE_ | Organization of Islamic Cooperation, =OIC
oas | Organization of American States | ORGANIZATION_OF_AMERICAN_STATES_ | Organisation of American States, =OAS
ecowas | ECOWAS | ECOWAS_, ECONOMIC_COMMUNITY_OF_WEST_AFRICAN_STATES_ |
sadc | SADC | SADC_, SOUTHERN_AFRICAN_DEVELOPMENT_COMMUNITY_ |
eac | East African Community | EAST_AFRICAN_COMMUNITY_ |
igad | IGAD | IGAD_, INTERGOVERNMENTAL_AUTHORITY_ON_DEVELOPMENT_ |
caricom | CARICOM | CARIBBEAN_COMMUNITY_ |
mercosur | Mercosur | | Mercosul, Southern Common Market
apec | APEC | | Asia-Pacific Economic Cooperation
oecd | OECD | ORGANIZATION_FOR_ECONOMIC_COOPERATION_AND_DEVELOPMENT_, ORGANISATION_FOR_ECONOMIC_COOPERATION_AND_DEVELOPMENT_ | Organisation for Economic Co-operation and Development, ОЭСР
efta | EFTA | EUROPEAN_FREE_TRADE_ASSOCIATION_ |
ebrd | EBRD | EUROPEAN_BANK_FOR_RECONSTRUCTION_AND_DEVELOPMENT_ |
opcw | OPCW | ORGANIZATION_FOR_THE_PROHIBITION_OF_CHEMICAL_WEAPONS | ОЗХО
interpol | Interpol | INTERPOL_, INTERNATIONAL_CRIMINAL_POLICE_ORGANIZATION_ | Интерпол*
icrc | International Committee of the Red Cross | INTERNATIONAL_COMMITTEE_OF_THE_RED_CROSS_ | ICRC, Red Cross, Red Crescent, МККК
nam | Non-Aligned Movement | ORGANIZATION_OF_NON_ALIGNED_COUNTRIES_ | Non-Aligned Countries
"""

# part_of among organisations: an organ counts for the body it belongs to.
ORGANISATION_PART_OF = {
    "unsc": ["un"],
    "unga": ["un"],
    "un-secretary-general": ["un"],
    "unhrc": ["un"],
    # The UN's court, and its programmes and funds (not the specialised agencies, which are
    # bodies of their own): "UN Refugee Agency" is news about the UN too.
    "icj": ["un"],
    "unhcr": ["un"],
    "unicef": ["un"],
    "undp": ["un"],
    "wfp": ["un"],
    "european-commission": ["eu"],
    "european-parliament": ["eu"],
    "european-council": ["eu"],
    "ecb": ["eu"],
}

# PETRARCH names left out everywhere (folded): common words ("male", the capital of the
# Maldives), names of better-known places elsewhere (Victoria, Georgetown, San José, St John's,
# St George's), regions and cities that slipped through the spelling filter, and forms too
# generic to name one actor ("Korea", "America", "Security Council", "the UN").
DROPPED = frozenset(
    {
        "male",
        "victoria",
        "georgetown",
        "san jose",
        "st john s",
        "saint john s",
        "st george s",
        "saint george s",
        "korea",
        "america",
        "ameica",
        "indies",
        "rom",
        "sana",
        "pole",
        "finn",
        "switzer",
        "pakish",
        "grenadines",
        "p yongan",
        "granite state",
        "zealand",
        "namib desert",
        "mexicali",
        "mongolids",
        "chiloe",
        "the un",
        "the eu",
        "the wb",
        "unscr",
        "unsg",
        "security council",
        "the us",
        "the usa",
        "the uk",
        "the drc",
    }
)
SMALL_WORDS = frozenset(
    re.split(
        r"\s+",
        "of the and for on in to at de du des la le les et da do dos das del y e van von di al el",
    )
)
# PETRARCH writes these in capitals; they stay in capitals.
ACRONYMS = frozenset(
    re.split(
        r"\s+",
        "USA UAE DPRK DRC ROK PRC UK USSR EU UN NATO IMF IAEA ICJ WFP OSCE ASEAN OPEC OAS ECOWAS "
        "SADC IGAD OECD EFTA EBRD OPCW UNICEF UNESCO UNHCR UNDP IPCC WHO HKSAR",
    )
)
_OFFICIAL = re.compile(
    r"\b(republic|kingdom|state|states|federation|federal|union|emirates?|sultanate|"
    r"principality|commonwealth|duchy|confederation|democratic|people'?s|islamic|socialist)\b",
    re.IGNORECASE,
)


@dataclass(slots=True)
class Entry:
    """One TABARI entry: a name at the start of a line, its `+` alternates and its codes."""

    name: str
    line: int
    alternates: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Actor:
    """An actor as written to the YAML (a term is a string or `{term, case}`)."""

    id: str
    kind: str
    names: list[str | dict[str, str]]
    part_of: list[str] = field(default_factory=list)
    description: str = ""


def read_tabari(path: Path) -> list[Entry]:
    """The entries of a TABARI .actors file, in file order (comments dropped)."""
    entries: list[Entry] = []
    current: Entry | None = None
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        codes = [code.split()[0] for code in re.findall(r"\[([^\]]+)\]", line) if code.split()]
        if raw[0] in " \t":
            if current is not None:
                current.codes.extend(codes)
        elif line.startswith("+"):
            if current is not None:
                bare = re.sub(r"\[[^\]]*\]", "", line)
                current.alternates.extend(p.strip() for p in bare.split("+") if p.strip())
        else:
            name = re.sub(r"\[[^\]]*\]", "", line).strip()
            current = Entry(name, number, codes=codes)
            entries.append(current)
    return entries


def natural_case(name: str) -> str:
    """`REPUBLIC_OF_ARMENIA_` -> `Republic of Armenia`; `COTE_D'IVOIRE` -> `Cote d'Ivoire`."""
    words = [w for w in name.strip().strip("_").split("_") if w]
    return " ".join(_word(word, first=i == 0) for i, word in enumerate(words))


def _word(word: str, *, first: bool) -> str:
    if word in ACRONYMS:
        return word
    if "." in word:  # U.S., S.KOREA, D.R.CONGO
        return ".".join(p.upper() if len(p) <= 2 else p.capitalize() for p in word.split("."))
    if word.lower() in SMALL_WORDS and not first:
        return word.lower()
    if re.fullmatch(r"[A-Z]'[A-Z].*", word):  # D'IVOIRE, N'DJAMENA
        head = word[0].lower() if word[0] in "DL" and not first else word[0]
        return head + "'" + word[2:].capitalize()
    return "-".join(part.capitalize() for part in word.split("-"))


def folded(text: str) -> str:
    """Casefolded, accents removed, any run of non-word characters one space (as the matcher)."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(re.split(r"[\W_]+", bare)).strip()


def term_text(term: str | dict[str, str]) -> str:
    return term if isinstance(term, str) else term["term"]


def is_sensitive(term: str | dict[str, str]) -> bool:
    return isinstance(term, dict) and term.get("case") == "sensitive"


def parse_names(cell: str) -> list[str | dict[str, str]]:
    """`Turkey, =UK` -> ["Turkey", {"term": "UK", "case": "sensitive"}]."""
    names: list[str | dict[str, str]] = []
    for part in (p.strip() for p in cell.split(",")):
        if part.startswith("="):
            names.append({"term": part[1:], "case": "sensitive"})
        elif part:
            names.append(part)
    return names


@dataclass(slots=True)
class CountryRow:
    """One row of COUNTRY_TABLE."""

    code: str
    id: str
    name: list[str | dict[str, str]]
    capitals: list[str | dict[str, str]]
    demonyms: list[str | dict[str, str]]
    more: list[str | dict[str, str]]
    capitals_left_out: list[str] = field(default_factory=list)


def country_rows() -> list[CountryRow]:
    rows = []
    for line in COUNTRY_TABLE.strip().splitlines():
        code, actor_id, name, capitals, demonyms, more = (c.strip() for c in line.split("|"))
        left_out = [c.strip()[1:] for c in capitals.split(",") if c.strip().startswith("-")]
        kept = ", ".join(c for c in capitals.split(",") if not c.strip().startswith("-"))
        cells = [parse_names(c) for c in (name, kept, demonyms, more)]
        rows.append(CountryRow(code, actor_id, cells[0], cells[1], cells[2], cells[3], left_out))
    return rows


def similar(alternate: str, known: Iterable[str]) -> bool:
    """A spelling or foreign form of a known name: close as a whole, or sharing a long prefix."""
    a = alternate.replace(" ", "")
    for name in known:
        b = name.replace(" ", "")
        if difflib.SequenceMatcher(None, a, b).ratio() > 0.8:
            return True
        one_word = " " not in alternate and " " not in name
        if one_word and len(a) >= 5 and a[:5] == b[:5] and abs(len(a) - len(b)) <= 4:
            return True
    return False


def petrarch_alternates(row: CountryRow, entries: Sequence[Entry]) -> list[str]:
    """The PETRARCH names of a country that are spellings of its name, capital or demonym, or
    official names that contain its name; cities, provinces, rivers and epithets are left out.

    `entries` are the blocks coded with the country's code; those whose own name is not a name
    of the country (LEIPZIG_, IRAQI_KURDISTAN, TRANSNISTRIA) are skipped whole."""
    known = [folded(term_text(t)) for t in row.name + row.capitals + row.demonyms + row.more]
    main = folded(term_text(row.name[0]))
    kept: list[str] = []
    for entry in entries:
        if not _country_name(natural_case(entry.name), main, known):
            continue
        for raw in [entry.name, *entry.alternates]:
            name = natural_case(raw)
            key = folded(name)
            if any(ch in name for ch in ",()\ufffd") or len(key.replace(" ", "")) <= 3:
                continue
            if key not in DROPPED and _country_name(name, main, known):
                kept.append(name)
    return kept


def _country_name(name: str, main: str, known: Sequence[str]) -> bool:
    key = folded(name)
    official = _OFFICIAL.search(name) is not None and f" {main} " in f" {key} "
    return official or similar(key, known)


def country_actor(row: CountryRow, entries: Sequence[Entry]) -> Actor:
    names = [*row.name, *row.more, *row.capitals, *row.demonyms]
    names += petrarch_alternates(row, entries)
    names += RUSSIAN.get(row.id, [])
    capitals = ", ".join([*(term_text(c) for c in row.capitals), *row.capitals_left_out])
    description = f"capital: {capitals}"
    if row.capitals_left_out:
        description += " (not among the names: it also names a common word or other places)"
    if row.id in NON_MEMBERS:
        description += "; not a UN member state"
    return Actor(row.id, "country", compact(names), description=description)


def compact(names: Sequence[str | dict[str, str]]) -> list[str | dict[str, str]]:
    """`names` without repeats and without names that can never add a match: one that holds
    another case-insensitive name of the same actor as whole words ("Republic of Armenia"
    beside "Armenia"), or that a prefix term covers ("Россия" beside "Росси*")."""
    # A name made case-sensitive on purpose ("=Turkey") wins over the same name without case.
    sensitive = {folded(term_text(t)) for t in names if is_sensitive(t)}
    unique: dict[str, str | dict[str, str]] = {}
    for term in names:
        key = term_text(term) if is_sensitive(term) else folded(term_text(term))
        if not is_sensitive(term) and key in sensitive:
            continue
        if key and key not in unique:
            unique[key] = term
    first, *rest = unique.values()  # the display name stays, even when another name covers it
    others = list(unique.values())
    return [first, *(t for t in rest if not any(_covers(o, t) for o in others if o is not t))]


def _covers(broad: str | dict[str, str], narrow: str | dict[str, str]) -> bool:
    if is_sensitive(broad) and not is_sensitive(narrow):
        return False
    if is_sensitive(broad):
        return f" {term_text(broad)} " in f" {term_text(narrow)} " and broad != narrow
    text = term_text(broad)
    if text.startswith("re:"):
        return False
    words = folded(text).split()
    inner = folded(term_text(narrow)).split()
    if text.endswith("*"):
        return len(words) == 1 and any(w.startswith(words[0]) for w in inner)
    size = len(words)
    return size < len(inner) and any(
        inner[i : i + size] == words for i in range(len(inner) - size + 1)
    )


def organisation_actors(entries: list[Entry]) -> list[Actor]:
    """The organisations of ORGANISATION_TABLE, with the names of the PETRARCH entries named."""
    by_name: dict[str, Entry] = {}
    for entry in entries:
        by_name.setdefault(entry.name.rstrip("_ "), entry)
    actors = []
    for line in ORGANISATION_TABLE.strip().splitlines():
        actor_id, display, wanted, more = (c.strip() for c in line.split("|"))
        names: list[str | dict[str, str]] = [*parse_names(display)]
        for key in (w.strip().rstrip("_ ") for w in wanted.split(", ") if w.strip()):
            found = by_name.get(key)
            if found is None:
                raise SystemExit(f"no PETRARCH entry {key!r} (organisation {actor_id})")
            for raw in [found.name, *found.alternates]:
                name = natural_case(raw)
                folded_name = folded(name)
                short = len(folded_name.replace(" ", "")) <= 3
                if "," not in name and not short and folded_name not in DROPPED:
                    names.append(name)
        names += parse_names(more)
        part_of = ORGANISATION_PART_OF.get(actor_id, [])
        actors.append(Actor(actor_id, "organization", compact(names), part_of))
    return actors


def country_actors(entries: list[Entry]) -> list[Actor]:
    """The countries of COUNTRY_TABLE, with the PETRARCH blocks coded with each one's code."""
    blocks: dict[str, list[Entry]] = {}
    for entry in entries:
        for code in dict.fromkeys(entry.codes):
            if re.fullmatch(r"[A-Z]{3}", code):
                blocks.setdefault(code, []).append(entry)
    return [country_actor(row, blocks.get(row.code, [])) for row in country_rows()]


def scalar(text: str) -> str:
    """A flow-style YAML scalar: plain when safe, else double-quoted (JSON is valid YAML)."""
    plain = re.fullmatch(r"[^\W\d_][\w .'-]*[\w.]", text) and ": " not in text
    if plain and text.lower() not in ("yes", "no", "on", "off", "true", "false", "null", "y", "n"):
        return text
    return json.dumps(text, ensure_ascii=False)


def term_yaml(term: str | dict[str, str]) -> str:
    if isinstance(term, str):
        return scalar(term)
    return f"{{term: {scalar(term['term'])}, case: {term['case']}}}"


def actor_lines(actor: Actor) -> Iterator[str]:
    yield f"  - id: {actor.id}"
    yield f"    kind: {actor.kind}"
    if actor.description:
        yield f"    description: {scalar(actor.description)}"
    yield f"    names: [{', '.join(term_yaml(t) for t in actor.names)}]"
    if actor.part_of:
        yield f"    part_of: [{', '.join(actor.part_of)}]"


def write_dictionary(path: Path, header: str, actors: list[Actor]) -> None:
    lines = [*(f"# {line}".rstrip() for line in header.strip().splitlines()), "actors:"]
    for actor in actors:
        lines.extend(actor_lines(actor))
    text = "\n".join(lines) + "\n"
    parsed = yaml.safe_load(text)  # the output must read back as exactly what was meant
    assert [a["id"] for a in parsed["actors"]] == [a.id for a in actors]
    assert [a["names"] for a in parsed["actors"]] == [a.names for a in actors]
    path.write_text(text, encoding="utf-8")


COUNTRIES_HEADER = f"""
Countries: the 193 UN member states, plus Palestine, the Holy See, Kosovo and Taiwan.
Names, alternate spellings and official names from PETRARCH2 {COUNTRIES_SOURCE}
(openeventdata/petrarch2 @ {PETRARCH_COMMIT}, MIT licence, (c) 2014 Open Event Data Alliance);
display names, capitals, demonyms, modern and Russian names added by us. See ATTRIBUTION.md.
Generated by rules/actors/generate.py: change the script and run it again, do not edit by hand.
"""
ORGANISATIONS_HEADER = f"""
International organisations and their main organs.
Names from PETRARCH2 {INTERNATIONAL_SOURCE}
(openeventdata/petrarch2 @ {PETRARCH_COMMIT}, MIT licence, (c) 2014 Open Event Data Alliance);
organisations PETRARCH2 lacks, acronyms and Russian names added by us. See ATTRIBUTION.md.
Generated by rules/actors/generate.py: change the script and run it again, do not edit by hand.
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("countries", type=Path, help="Phoenix.Countries.actors.txt")
    parser.add_argument("international", type=Path, help="Phoenix.International.actors.txt")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    countries = country_actors(read_tabari(args.countries))
    organisations = organisation_actors(read_tabari(args.international))
    write_dictionary(args.out / "countries.yaml", COUNTRIES_HEADER, countries)
    write_dictionary(args.out / "organizations.yaml", ORGANISATIONS_HEADER, organisations)
    for message in shared_names([*countries, *organisations]):
        print(f"note: {message}", file=sys.stderr)
    print(f"wrote {len(countries)} countries and {len(organisations)} organisations")
    return 0


def shared_names(actors: Iterable[Actor]) -> Iterator[str]:
    """Names that more than one actor has (reported so that each can be judged)."""
    owners: dict[str, list[str]] = {}
    for actor in actors:
        for term in actor.names:
            ids = owners.setdefault(folded(term_text(term)), [])
            if actor.id not in ids:
                ids.append(actor.id)
    for name, ids in sorted(owners.items()):
        if len(ids) > 1:
            yield f'"{name}" is a name of {", ".join(ids)}'


if __name__ == "__main__":
    raise SystemExit(main())
